"""Rate limits per client and per user on the JSON API, FHIR and OAuth endpoints
(Flask-Limiter, on Redis when ``REDIS_URL`` is set, in memory for the embedded demo), and the
per-client usage counts admins see.

Who a request counts against is decided before the view runs: a bearer token's client (and
its user, for a token a user authorized), a client authenticating at the token endpoint, a
signed-in user, or else the caller's address. A client named at the token endpoint is not yet
verified, so those requests count per client *and address*: a stranger who knows a client id
cannot spend that partner's budget, and is counted in its usage only once authenticated.
Over a limit the answer is 429 with ``Retry-After`` (problem+json; an OperationOutcome on
``/fhir``). Limits are configuration:
``RATE_LIMIT_PER_CLIENT``, ``RATE_LIMIT_PER_USER``, ``RATE_LIMIT_ANONYMOUS`` (limits strings
such as ``"600/minute"``).
"""

from __future__ import annotations

import base64
import math
import time

from flask import Flask, current_app, g, jsonify, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from sqlalchemy import select

from baton.platform.api.problems import problem_response
from baton.platform.extensions import db
from baton.platform.oauth import usage
from baton.platform.oauth.models import OAuthClient, OAuthToken
from baton.platform.oauth.tokens import hash_token

LIMITED_PREFIXES = (
    "/api/",
    "/fhir",
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/userinfo",
)
DEFAULTS = {
    "RATE_LIMIT_PER_CLIENT": "1200/minute",
    "RATE_LIMIT_PER_USER": "600/minute",
    "RATE_LIMIT_ANONYMOUS": "300/minute",
}


def init_rate_limits(app: Flask) -> None:
    """One limiter per app (its storage is per app: tests run several apps side by side)."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    limiter = Limiter(
        key_func=_address_key,
        application_limits=[
            _limit("RATE_LIMIT_PER_CLIENT", _client_key, "client"),
            _limit("RATE_LIMIT_PER_USER", _user_key, "user"),
            _limit("RATE_LIMIT_ANONYMOUS", _address_key, "anonymous", _identified),
        ],
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI")
        or app.config.get("REDIS_URL")
        or "memory://",
        strategy=app.config.get("RATELIMIT_STRATEGY", "fixed-window"),
        key_prefix=app.config.get("RATELIMIT_KEY_PREFIX", "baton-rl"),
        headers_enabled=False,  # Retry-After is set on the 429 itself, see _too_many
        # Redis carries counters, not records: if it is down, count in memory meanwhile
        # rather than refuse the API.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limiter.request_filter(lambda: not _limited_path())
    app.before_request(_identify_caller)  # before the limiter's hook: its keys need it
    limiter.init_app(app)
    app.extensions["baton_limiter"] = limiter
    app.after_request(_count_usage)
    app.register_error_handler(RateLimitExceeded, _too_many)


def _limit(setting: str, key, scope: str, exempt=None) -> ApplicationLimit:
    """An app-wide limit counted per ``key``; a request without that key is exempt."""
    return ApplicationLimit(
        lambda: current_app.config[setting],
        key_function=key,
        scope=scope,
        exempt_when=exempt or (lambda: not key()),
    )


def _limited_path() -> bool:
    return request.path.startswith(LIMITED_PREFIXES)


def _identify_caller() -> None:
    """Put the caller's client and user on ``g`` (cheap: one indexed lookup for a token)."""
    if not _limited_path():
        return
    g.rate_client, g.rate_user, g.rate_claimed_client = None, None, None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        g.rate_client, g.rate_user = _token_owner(header[7:].strip())
    elif request.path.startswith("/oauth/"):
        g.rate_claimed_client = _authenticating_client()
    principal = g.get("principal")
    if g.rate_user is None and principal is not None and principal.user_id is not None:
        g.rate_user = str(principal.user_id)


def _token_owner(token: str) -> tuple[str | None, str | None]:
    if not token or len(token) > 200:
        return None, None
    row = db.session.execute(
        select(OAuthToken.client_pk, OAuthToken.user_id).where(
            OAuthToken.token_hash == hash_token(token)
        )
    ).one_or_none()
    if row is None:
        return None, None
    return str(row.client_pk), str(row.user_id) if row.user_id else None


def _authenticating_client() -> str | None:
    """The registered client a token-endpoint request names (Basic auth, ``client_id``, or
    an assertion's issuer). Unverified: it only picks the bucket, authentication follows."""
    client_id = request.form.get("client_id") or _basic_username() or _assertion_issuer()
    if not client_id or len(client_id) > 64:
        return None
    pk = db.session.scalar(select(OAuthClient.id).where(OAuthClient.client_id == client_id))
    return str(pk) if pk else None


def _basic_username() -> str | None:
    auth = request.authorization
    return auth.username if auth and auth.type == "basic" else None


def _assertion_issuer() -> str | None:
    import json

    assertion = request.form.get("client_assertion", "")
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def _client_key() -> str:
    if g.get("rate_client"):
        return g.rate_client
    claimed = g.get("rate_claimed_client")
    return f"{claimed}@{_address_key()}" if claimed else ""


def _user_key() -> str:
    return g.get("rate_user") or ""


def _identified() -> bool:
    return bool(_client_key() or g.get("rate_user"))


def _address_key() -> str:
    return request.remote_addr or "unknown"


def _count_usage(response):
    client = g.get("rate_client")
    if client is None and response.status_code < 400:  # the named client authenticated
        client = g.get("rate_claimed_client")
    if client and _limited_path():
        usage.count_request(client, throttled=response.status_code == 429)
    return response


def _too_many(exc: RateLimitExceeded):
    limiter: Limiter = current_app.extensions["baton_limiter"]
    current = limiter.current_limit
    reset_at = current.reset_at if current else time.time() + 1
    retry_after = str(max(1, math.ceil(reset_at - time.time())))
    headers = {"Retry-After": retry_after}
    detail = f"Rate limit {exc.description} reached; retry after {retry_after} s."
    if request.path.startswith("/fhir"):
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "throttled", "diagnostics": detail}],
        }
        response = jsonify(outcome)
        response.status_code, response.mimetype = 429, "application/fhir+json"
        response.headers.update(headers)
        return response
    return problem_response(429, "rate-limited", "Too many requests", detail, headers=headers)
