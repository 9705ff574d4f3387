"""``private_key_jwt`` client authentication (RFC 7523) as SMART Backend Services asks.

Authlib's JWTBearerClientAssertion checks the signature, ``iss`` = ``sub``, ``aud`` and
``exp``; this subclass adds what SMART requires: RS384 or ES384 only, a ``kid`` naming one of
the client's registered keys, ``exp`` at most five minutes ahead, and a ``jti`` that is
single-use until the assertion expires (kept in PostgreSQL, not in Redis, so a flush of the
cache cannot reopen a replay window). Every failure is ``invalid_client``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app, g
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError

from baton.platform.extensions import db
from baton.platform.oauth.clients import SIGNING_ALGS
from baton.platform.oauth.models import OAuthClient, UsedAssertion

MAX_LIFETIME = 300  # seconds an assertion may be valid for, from now
CLOCK_SKEW = 30  # seconds of clock difference tolerated in either direction
JWKS_CACHE_SECONDS = 300
_jwks_cache: dict[str, tuple[float, dict]] = {}


def token_url() -> str:
    """The token endpoint's public URL: the audience every assertion must name."""
    return current_app.config["BASE_URL"].rstrip("/") + "/oauth/token"


class PrivateKeyJWTAssertion(JWTBearerClientAssertion):
    # Registered under the RFC 7591 name the SMART configuration advertises (Authlib's own
    # default name for this class is "client_assertion_jwt").
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self):
        super().__init__(validate_jti=True, leeway=CLOCK_SKEW)

    def get_audiences(self) -> list[str]:
        return [token_url()]

    def extract_assertion(self, assertion: str):
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in SIGNING_ALGS:
            raise InvalidClientError(description="The assertion must be signed RS384 or ES384.")
        if not isinstance(headers.get("kid"), str) or not headers["kid"]:
            raise InvalidClientError(description="The assertion header needs a 'kid'.")
        g.assertion_headers = headers  # per request: one instance serves every thread
        return headers, claims

    def resolve_client_public_key(self, client):
        """The registered key named by the assertion's ``kid`` (the JWKS URL is fetched again
        once when the kid is unknown, so a client can rotate keys)."""
        g.oauth_client = client  # validate_jti, later, is not handed it
        client: OAuthClient = client.row
        kid = g.assertion_headers["kid"]
        key = _find(_client_jwks(client), kid)
        if key is None and client.jwks_uri:
            key = _find(_client_jwks(client, refresh=True), kid)
        if key is None:
            raise InvalidClientError(description="No registered key has that 'kid'.")
        return key

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=[g.assertion_headers["alg"]])
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="The assertion signature is not valid.") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims):
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp > time.time() + MAX_LIFETIME + CLOCK_SKEW:
            raise InvalidClientError(
                description=f"The assertion must expire within {MAX_LIFETIME} seconds."
            )
        super().verify_claims(claims)

    def validate_jti(self, claims, jti) -> bool:
        """Record the jti (committed at once, so even a request that fails later has used
        it); False when this client already used it and it has not expired."""
        client: OAuthClient = g.oauth_client.row
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            return False
        now = datetime.now(UTC)
        db.session.execute(
            db.delete(UsedAssertion).where(
                UsedAssertion.client_pk == client.id, UsedAssertion.expires_at < now
            )
        )
        try:
            with db.session.begin_nested():
                db.session.add(
                    UsedAssertion(
                        client_pk=client.id,
                        jti=jti,
                        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                    )
                )
        except IntegrityError:
            return False
        db.session.commit()
        return True


def _find(key_set: KeySet | None, kid: str):
    if key_set is None:
        return None
    try:
        return key_set.get_by_kid(kid)
    except (JoseError, ValueError, KeyError):
        return None


def _client_jwks(client: OAuthClient, refresh: bool = False) -> KeySet | None:
    data = client.jwks if client.jwks else _fetch_jwks(client.jwks_uri, refresh)
    if not data:
        return None
    try:
        return KeySet.import_key_set(data)
    except (JoseError, ValueError, TypeError):
        return None


def _fetch_jwks(url: str | None, refresh: bool) -> dict | None:
    """The JWKS at ``url``, cached for a few minutes per process; None when unreachable."""
    if not url:
        return None
    cached = _jwks_cache.get(url)
    if cached and not refresh and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = requests.get(url, timeout=5, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    _jwks_cache[url] = (time.monotonic() + JWKS_CACHE_SECONDS, data)
    return data
