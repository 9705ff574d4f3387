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

from baton.platform.errors import BatonError, InsufficientScope, NotFound, Unauthenticated
from baton.platform.extensions import db
from baton.platform.oauth.catalogue import permissions_for
from baton.platform.permissions import can
from baton.tenants.context import Principal, set_principal
from baton.tenants.scoping import access, model_for_arg

BEARER_RESOLVERS: list[Callable[[str], Principal | None]] = []
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Blueprints whose services check no permission of their own (a user's own notifications):
# a token needs one of these, through its scopes, to reach them.
TOKEN_BLUEPRINT_PERMISSIONS = {"api_notifications": ("referral.read", "referral.manage")}
__all__ = ["InsufficientScope", "authenticate_api_request", "BEARER_RESOLVERS"]


class CsrfMissing(BatonError):
    status = 403
    code = "csrf-token-required"
    title = "Send the page's CSRF token in the X-CSRFToken header"


def authenticate_api_request() -> None:
    """Set the request's principal from a bearer token or the session (401 otherwise), then
    answer 404 for any id in the URL the principal cannot see, before the body is read."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        principal = _from_bearer(header[7:].strip())
        _check_token_scopes(principal)
        g.principal = principal
        g.principal_token = set_principal(principal)
    elif g.get("principal") is None:
        raise Unauthenticated("Sign in, or send a bearer token")
    elif request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except ValidationError as exc:
            raise CsrfMissing() from exc
    _check_visible_ids(request.view_args or {})


def _check_visible_ids(view_args: dict) -> None:
    # Held on g: the session's identity map is weak, and the view will load them again.
    g.visible_rows = []
    for name, value in view_args.items():
        model = model_for_arg(name)
        if model is None:
            continue
        row = access(db.session, model, value)
        if row is None:
            raise NotFound(f"No such {model.__name__.lower()}")
        g.visible_rows.append(row)


def _check_token_scopes(principal: Principal) -> None:
    """A token needs some scope that means something on the JSON API; each endpoint's service
    then asks ``can()`` for its permission, which for a token also needs a granted scope that
    maps onto it (``baton.platform.oauth.catalogue``)."""
    if principal.scopes is None:
        return
    if not permissions_for(principal.scopes):
        raise InsufficientScope()
    needed = TOKEN_BLUEPRINT_PERMISSIONS.get(request.blueprint or "")
    if needed and not any(can(principal, p) for p in needed):
        raise InsufficientScope()


def _from_bearer(token: str) -> Principal:
    for resolve in BEARER_RESOLVERS:
        principal = resolve(token)
        if principal is not None:
            return principal
    raise Unauthenticated("The bearer token is not valid")
