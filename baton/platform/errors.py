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


class InsufficientScope(Forbidden):
    """The role may do this, but the token was not granted a scope that allows it."""

    code = "insufficient-scope"
    title = "The token's scopes do not allow this"


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


class ConsentRequired(BatonError):
    """Nothing leaves the school without active consent naming the provider."""

    status = 403
    code = "consent-required"
    title = "No active consent allows this sharing"


class TransitionRefused(Conflict):
    """The state machine refuses the move; ``code`` says which rule (see lifecycle.py)."""

    code = "transition-refused"
    title = "This status change is not allowed"

    def __init__(self, detail: str, code: str = "transition-refused"):
        super().__init__(detail)
        self.code = code


class PreconditionFailed(BatonError):
    status = 412
    code = "stale-version"
    title = "The record changed since you read it; reload and try again"


class PreconditionRequired(BatonError):
    status = 428
    code = "if-match-required"
    title = "Send If-Match with the ETag you read"


class UnsafeContact(BatonError):
    """The caregiver's safe-contact preferences forbid this channel."""

    status = 422
    code = "unsafe-contact"
    title = "The family's safe-contact preferences forbid this"
