"""Token revocation (RFC 7009) and introspection (RFC 7662).

A client revokes or introspects only tokens issued to itself; a public client may revoke its
own tokens by naming its ``client_id`` (RFC 7009 §2.1) but cannot introspect. Revoking a
user's token ends the authorization it came from (its whole family).
"""

from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from baton.platform.models.base import as_utc
from baton.platform.oauth import tokens
from baton.platform.oauth.grants import IssuedToken
from baton.platform.oauth.oidc import issuer

CONFIDENTIAL = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def _query(value: str, hint: str | None) -> IssuedToken | None:
    row = tokens.find_token(value, hint)
    return IssuedToken(row) if row is not None else None


class TokenRevocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL, "none"]

    def query_token(self, token_string, token_type_hint):
        return _query(token_string, token_type_hint)

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.2: another client's token is answered like an unknown one (200), so
        # the endpoint tells nobody which tokens exist.
        if token is not None and not token.check_client(client):
            return None
        return token

    def revoke_token(self, token: IssuedToken, request) -> None:
        tokens.revoke(token.row)


class TokenIntrospection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL

    def query_token(self, token_string, token_type_hint):
        return _query(token_string, token_type_hint)

    def check_permission(self, token: IssuedToken, client, request) -> bool:
        return token.check_client(client)

    def create_introspection_payload(self, token: IssuedToken | None) -> dict:
        if token is None or token.is_revoked():
            return {"active": False}
        row = token.row
        refresh = row.refresh_token_hash == tokens.hash_token(self._presented())
        if refresh and not tokens.refresh_usable(row):
            return {"active": False}
        if not refresh and token.is_expired():
            return {"active": False}
        return self._payload(token, refresh)

    def _presented(self) -> str:
        from flask import request

        return request.form.get("token", "")

    def _payload(self, token: IssuedToken, refresh: bool) -> dict:
        row = token.row
        expires = row.refresh_expires_at if refresh else row.expires_at
        payload = {
            "active": True,
            "scope": row.scopes,
            "client_id": token.client.client_id,
            "token_type": "refresh_token" if refresh else "Bearer",
            "exp": int(as_utc(expires).timestamp()),
            "iat": int(as_utc(row.issued_at).timestamp()),
            "iss": issuer(),
            "baton_org": _org(row),
        }
        if row.user_id:
            payload["sub"] = str(row.user_id)
        return payload

    def introspect_token(self, token):
        return self._payload(token, refresh=False)


def _org(row) -> str:
    if row.tenant_id:
        return f"district:{row.tenant_id}"
    if row.provider_id:
        return f"provider:{row.provider_id}"
    return f"county:{row.county_id}"
