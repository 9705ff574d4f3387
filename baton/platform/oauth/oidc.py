"""OpenID Connect sign-in: ID tokens on the code flow, userinfo, and what they say about a
staff member. Claims by scope: ``openid`` -> ``sub`` (the user's id, stable); ``profile`` ->
``name`` and ``baton_role``; ``email`` -> ``email``. Every ID token also names the
organisation the user authorized for (``baton_org``: ``district:<id>`` …)."""

from __future__ import annotations

import time

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import OpenIDCode, UserInfoEndpoint
from flask import current_app
from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import Membership, User
from baton.platform.oauth import keys, scopes, tokens
from baton.platform.oauth.grants import IssuedToken, UserGrant
from baton.platform.oauth.models import OAuthAuthorizationCode

ID_TOKEN_LIFETIME = 300  # seconds


def issuer() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def claims_for(user: User, membership: Membership | None, scope: str) -> dict:
    """The claims about ``user`` that ``scope`` allows."""
    granted = set(scopes.split(scope))
    claims: dict = {"sub": str(user.id)}
    if membership is not None:
        claims["baton_org"] = _org(membership)
    if "profile" in granted:
        claims["name"] = user.name
        if membership is not None:
            claims["baton_role"] = membership.role
    if "email" in granted:
        claims["email"] = user.email
    return claims


def _org(membership: Membership) -> str:
    if membership.tenant_id:
        return f"district:{membership.tenant_id}"
    if membership.provider_id:
        return f"provider:{membership.provider_id}"
    return f"county:{membership.county_id}"


class BatonOpenIDCode(OpenIDCode):
    """ID tokens signed RS256 by the server key, audience the client, five minutes."""

    def resolve_client_private_key(self, client):
        return keys.signing_key()

    def get_client_algorithm(self, client) -> str:
        return keys.SIGNING_ALG

    def get_encode_header(self, client) -> dict:
        return {"alg": keys.SIGNING_ALG, "kid": keys.signing_key().kid, "typ": "JWT"}

    def get_client_claims(self, client) -> dict:
        now = int(time.time())
        return {
            "iss": issuer(),
            "aud": [client.get_client_id()],
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
        }

    def exists_nonce(self, nonce: str, request) -> bool:
        return (
            db.session.scalar(
                select(OAuthAuthorizationCode.id).where(
                    OAuthAuthorizationCode.client_pk == request.client.row.id,
                    OAuthAuthorizationCode.nonce == nonce,
                )
            )
            is not None
        )

    def generate_user_info(self, user: UserGrant, scope: str) -> dict:
        return claims_for(user.user, user.membership, scope)


class _TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> IssuedToken | None:
        row = tokens.find_token(token_string, "access_token")
        if row is None or row.user_id is None:  # a client's own token names no user
            return None
        if row.token_hash != tokens.hash_token(token_string):
            return None
        return IssuedToken(row)


class BatonUserInfo(UserInfoEndpoint):
    """``/oauth/userinfo``: a user token with ``openid`` reads its user's claims."""

    def __init__(self):
        protector = ResourceProtector()
        protector.register_token_validator(_TokenValidator())
        super().__init__(resource_protector=protector)

    def get_issuer(self) -> str:
        return issuer()

    def resolve_private_key(self):
        return keys.signing_keys()

    def generate_user_info(self, user: User | None, scope: str) -> dict:
        token = _current_token()
        membership = db.session.get(Membership, token.row.membership_id) if token else None
        if user is None:
            return {}
        return claims_for(user, membership, scope)


def _current_token() -> IssuedToken | None:
    from flask import g

    return g.get("authlib_server_oauth2_token")
