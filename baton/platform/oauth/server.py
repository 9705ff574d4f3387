"""The Authlib AuthorizationServer and the token endpoint, ``POST /oauth/token``.

One server per app (``app.extensions["authorization_server"]``, see ``server()``). Grants
registered in ``_build``: ``client_credentials`` authenticated by a ``private_key_jwt``
assertion (SMART Backend Services). Partner-app grants (authorization code with PKCE, refresh
tokens) and endpoints (revocation, introspection) register there too.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from flask import Blueprint, Flask, current_app

from baton.platform.extensions import csrf, db
from baton.platform.oauth import clients, scopes
from baton.platform.oauth.assertion import PrivateKeyJWTAssertion
from baton.platform.oauth.models import OAuthClient, OAuthToken

TOKEN_LIFETIME = 300  # seconds; backend tokens carry no refresh token

bp = Blueprint("oauth", __name__, url_prefix="/oauth")


class RegisteredClient(ClientMixin):
    """Authlib's view of an OAuthClient row."""

    def __init__(self, row: OAuthClient):
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        return scopes.grant(scope, self.row.allowed_scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # asymmetric clients only: there is no secret to match

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == self.row.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.row.grant_types or [])


class BackendServicesGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [PrivateKeyJWTAssertion.CLIENT_AUTH_METHOD]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _query_client(client_id: str) -> RegisteredClient | None:
    row = clients.query_client(client_id)
    return RegisteredClient(row) if row is not None else None


def _save_token(token: dict, request) -> None:
    """Keep the token's hash, never the token; old expired tokens of the client go."""
    row: OAuthClient = request.client.row
    now = datetime.now(UTC)
    db.session.execute(
        db.delete(OAuthToken).where(
            OAuthToken.client_pk == row.id, OAuthToken.expires_at < now - timedelta(days=1)
        )
    )
    db.session.add(
        OAuthToken(
            token_hash=hash_token(token["access_token"]),
            client_pk=row.id,
            tenant_id=row.tenant_id,
            provider_id=row.provider_id,
            scopes=token.get("scope", ""),
            issued_at=now,
            expires_at=now + timedelta(seconds=token["expires_in"]),
        )
    )


@bp.post("/token")
def issue_token():
    """OAuth 2.0 token endpoint; errors are RFC 6749 JSON (``invalid_client`` …)."""
    return server().create_token_response()


def server() -> AuthorizationServer:
    """The current app's authorization server."""
    return current_app.extensions["authorization_server"]


def grant_types_supported() -> list[str]:
    """The grant types registered on the server (for discovery documents)."""
    return sorted({grant.GRANT_TYPE for grant, _ in server()._token_grants if grant.GRANT_TYPE})


def _build(app: Flask) -> AuthorizationServer:
    authorization_server = AuthorizationServer(
        app, query_client=_query_client, save_token=_save_token
    )
    authorization_server.register_client_auth_method(
        PrivateKeyJWTAssertion.CLIENT_AUTH_METHOD, PrivateKeyJWTAssertion()
    )
    authorization_server.register_grant(BackendServicesGrant)
    return authorization_server


def init_oauth(app: Flask) -> None:
    """Bind the server to the app and mount ``/oauth``; the JSON API accepts its tokens."""
    from baton.platform.api.auth import BEARER_RESOLVERS
    from baton.platform.oauth.bearer import resolve_api_bearer

    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": TOKEN_LIFETIME})
    app.config.setdefault("OAUTH2_REFRESH_TOKEN_GENERATOR", False)
    app.extensions["authorization_server"] = _build(app)
    if resolve_api_bearer not in BEARER_RESOLVERS:
        BEARER_RESOLVERS.append(resolve_api_bearer)
    csrf.exempt(bp)
    app.register_blueprint(bp)
