"""The Authlib AuthorizationServer and its endpoints under ``/oauth``.

One server per app (``app.extensions["authorization_server"]``, see ``server()``). Grants
registered in ``_build``: ``client_credentials`` authenticated by a ``private_key_jwt``
assertion (SMART Backend Services) or a client secret; ``authorization_code`` with PKCE
(S256) and OpenID Connect for partner apps a user authorizes (``grants``, ``oidc``);
``refresh_token`` with rotation. Endpoints: ``POST /oauth/token``, ``/oauth/revoke``
(RFC 7009), ``/oauth/introspect`` (RFC 7662), ``/oauth/userinfo``, ``GET /oauth/jwks``. The
authorization (consent) page lives in ``consent``, discovery in ``discovery``.
"""

from __future__ import annotations

import base64
import hmac

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from flask import Blueprint, Flask, current_app, jsonify, request

from baton.platform.extensions import csrf
from baton.platform.oauth import clients, keys, scopes
from baton.platform.oauth.assertion import PrivateKeyJWTAssertion
from baton.platform.oauth.endpoints import TokenIntrospection, TokenRevocation
from baton.platform.oauth.errors import oauth_error
from baton.platform.oauth.grants import (
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    S256Challenge,
    UserGrant,
)
from baton.platform.oauth.models import OAuthClient
from baton.platform.oauth.oidc import BatonOpenIDCode, BatonUserInfo
from baton.platform.oauth.tokens import hash_token, store_token

TOKEN_LIFETIME = 300  # seconds; backend tokens carry no refresh token
USER_TOKEN_LIFETIME = 900  # seconds; a user's app refreshes (rotating refresh tokens)
SECRET_METHODS = ("client_secret_basic", "client_secret_post")

bp = Blueprint("oauth", __name__, url_prefix="/oauth")


class RegisteredClient(ClientMixin):
    """Authlib's view of an OAuthClient row."""

    client_metadata: dict = {}  # no per-client signed userinfo, encryption …

    def __init__(self, row: OAuthClient):
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        return scopes.grant(scope, self.row.allowed_scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.row.redirect_uris or [])  # exact match, nothing looser

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.client_secret_hash
        return bool(stored) and hmac.compare_digest(hash_token(client_secret), stored)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint not in ("token", "revocation", "introspection"):
            return False
        if self.row.auth_method in SECRET_METHODS:
            return method in SECRET_METHODS  # basic or post, RFC 6749 lets a client choose
        return method == self.row.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.row.grant_types or [])


class BackendServicesGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [PrivateKeyJWTAssertion.CLIENT_AUTH_METHOD, *SECRET_METHODS]


def _query_client(client_id: str) -> RegisteredClient | None:
    row = clients.query_client(client_id)
    return RegisteredClient(row) if row is not None else None


def _save_token(token: dict, request) -> None:
    """Keep the token's hashes, never the token (``tokens.store_token``)."""
    grant = request.user if isinstance(request.user, UserGrant) else None
    store_token(token, request.client.row, grant)


@bp.before_request
def _refuse_undecodable_basic_auth():
    """Authlib decodes ``Authorization: Basic`` as UTF-8 without catching a failure."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            base64.b64decode(header[6:], validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            return server().handle_error_response(
                None, InvalidClientError(description="Basic credentials are not base64 UTF-8")
            )
    return None


@bp.post("/token")
def issue_token():
    """OAuth 2.0 token endpoint; errors are RFC 6749 JSON (``invalid_client`` …)."""
    return server().create_token_response()


@bp.post("/revoke")
def revoke_token():
    """RFC 7009 token revocation."""
    return server().create_endpoint_response(TokenRevocation.ENDPOINT_NAME)


@bp.post("/introspect")
def introspect_token():
    """RFC 7662 token introspection, for a client's own tokens."""
    return server().create_endpoint_response(TokenIntrospection.ENDPOINT_NAME)


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    """OpenID Connect userinfo for a user's token with the ``openid`` scope."""
    if not request.headers.get("Authorization"):  # Authlib's own answer has no RFC code
        response = oauth_error(401, "", "", "Send the access token: Authorization: Bearer …")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    return server().create_endpoint_response(BatonUserInfo.ENDPOINT_NAME)


@bp.get("/jwks")
def jwks():
    """The public keys ID tokens are signed with."""
    response = jsonify(keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


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
    authorization_server.register_grant(
        AuthorizationCodeGrant, [S256Challenge(required=True), BatonOpenIDCode()]
    )
    authorization_server.register_grant(RefreshTokenGrant)
    authorization_server.register_endpoint(TokenRevocation)
    authorization_server.register_endpoint(TokenIntrospection)
    authorization_server.register_endpoint(BatonUserInfo())
    return authorization_server


def init_oauth(app: Flask) -> None:
    """Bind the server to the app and mount ``/oauth`` (token endpoints, CSRF-exempt: clients
    authenticate themselves), the consent page and discovery; the JSON API accepts its tokens;
    rate limits apply to the API, FHIR and token endpoints."""
    from baton.platform.api.auth import BEARER_RESOLVERS
    from baton.platform.oauth import consent, discovery, ratelimit
    from baton.platform.oauth.bearer import resolve_api_bearer

    app.config.setdefault(
        "OAUTH2_TOKEN_EXPIRES_IN",
        {
            "client_credentials": TOKEN_LIFETIME,
            "authorization_code": USER_TOKEN_LIFETIME,
            "refresh_token": USER_TOKEN_LIFETIME,
        },
    )
    app.config.setdefault("OAUTH2_REFRESH_TOKEN_GENERATOR", True)  # only the user grants ask
    app.extensions["authorization_server"] = _build(app)
    app.extensions.setdefault("baton_error_renderers", {})["oauth"] = oauth_error
    if resolve_api_bearer not in BEARER_RESOLVERS:
        BEARER_RESOLVERS.append(resolve_api_bearer)
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(consent.bp)
    app.register_blueprint(discovery.bp)
    ratelimit.init_rate_limits(app)
