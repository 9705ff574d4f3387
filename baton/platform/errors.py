"""Typed errors, declared once. Each surface renders them its own way."""

from __future__ import annotations


class BatonError(Exception):
    """Base of every error a user or client can cause; never a 500."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, fields: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.fields = fields or {}


class NotFound(BatonError):
    """Missing, or outside the caller's scope: the two are indistinguishable on purpose."""

    status = 404
    code = "not-found"
    title = "Not found"


class Forbidden(BatonError):
    status = 403
    code = "forbidden"
    title = "Not allowed for your role"


class Unauthenticated(BatonError):
    status = 401
    code = "unauthenticated"
    title = "Sign in required"


class InvalidInput(BatonError):
    status = 422
    code = "invalid-input"
    title = "Some fields need attention"


class Conflict(BatonError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class LoginRefused(BatonError):
    status = 401
    code = "login-refused"
    title = "Invalid email or password"


class AccountLocked(LoginRefused):
    status = 423
    code = "account-locked"
    title = "This account is temporarily locked after repeated failed sign-ins"
