"""The one pluggable place API callers are authenticated.

A browser session (staff using the app) works as is, with the CSRF token in an
``X-CSRFToken`` header on unsafe methods. Bearer tokens are resolved by the functions in
``BEARER_RESOLVERS``; the OAuth issues add theirs there.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import g, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from baton.platform.errors import BatonError, Unauthenticated
from baton.tenants.context import Principal, set_principal

BEARER_RESOLVERS: list[Callable[[str], Principal | None]] = []
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfMissing(BatonError):
    status = 403
    code = "csrf-token-required"
    title = "Send the page's CSRF token in the X-CSRFToken header"


def authenticate_api_request() -> None:
    """Set the request's principal from a bearer token or the session, or refuse with 401."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        principal = _from_bearer(header[7:].strip())
        g.principal = principal
        g.principal_token = set_principal(principal)
        return
    if g.get("principal") is None:
        raise Unauthenticated("Sign in, or send a bearer token")
    if request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except ValidationError as exc:
            raise CsrfMissing() from exc


def _from_bearer(token: str) -> Principal:
    for resolve in BEARER_RESOLVERS:
        principal = resolve(token)
        if principal is not None:
            return principal
    raise Unauthenticated("The bearer token is not valid")
