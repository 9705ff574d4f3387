"""Sign-in: argon2 password checks, lockout after repeated failures, principals for memberships."""

from __future__ import annotations

import uuid
from datetime import timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from baton.platform.errors import AccountLocked, LoginRefused
from baton.platform.extensions import db
from baton.platform.models import Membership, Partnership, User
from baton.platform.models.base import as_utc, utcnow
from baton.platform.permissions import ROLES
from baton.platform.services.audit import record_audit
from baton.tenants.context import Principal, system_scope

_hasher = PasswordHasher()
# A real hash to verify against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def use_cheap_hashing() -> None:
    """Argon2's cheapest profile, for the test suite only (``PASSWORD_HASHING = "cheap"``)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(
    email: str, password: str, *, max_failures: int, lockout_seconds: int, surface: str = "ui"
) -> User:
    """Return the user for a correct e-mail and password.

    Raises LoginRefused for a wrong e-mail or password (one message for both), and
    AccountLocked while the account is locked; ``max_failures`` wrong passwords in a row
    lock it for ``lockout_seconds``. Every failure is audited. The caller commits.
    """
    user = db.session.scalars(select(User).where(User.email == email.strip().lower())).first()
    now = utcnow()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        with system_scope("sign-in attempt", surface=surface) as principal:
            record_audit(
                "login-failed",
                "user",
                user.id if user else None,
                principal=principal,
                tenant_id=None,
                detail={"email": email.strip().lower()[:254]},
            )
        raise LoginRefused()
    if as_utc(user.locked_until) and as_utc(user.locked_until) > now:
        _audit_login(user, "login-refused-locked", surface)
        raise AccountLocked()
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(seconds=lockout_seconds)
            user.failed_logins = 0
            _audit_login(user, "account-locked", surface)
            raise AccountLocked()
        _audit_login(user, "login-failed", surface)
        raise LoginRefused()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _audit_login(user: User, action: str, surface: str) -> None:
    with system_scope("sign-in attempt", surface=surface) as principal:
        record_audit(action, "user", user.id, principal=principal, tenant_id=None)


def principal_for(
    membership: Membership, surface: str = "ui", request_id: str | None = None
) -> Principal:
    """The principal a membership acts as. A provider's bound is its active partner districts."""
    kind = ROLES[membership.role]
    partners: frozenset[uuid.UUID] = frozenset()
    if kind == "provider":
        partners = partner_tenant_ids(membership.provider_id)
    return Principal(
        kind=kind,
        surface=surface,
        user_id=membership.user_id,
        role=membership.role,
        tenant_id=membership.tenant_id,
        provider_id=membership.provider_id,
        county_id=membership.county_id,
        partner_tenant_ids=partners,
        request_id=request_id,
    )


def partner_tenant_ids(provider_id: uuid.UUID) -> frozenset[uuid.UUID]:
    with system_scope("resolve a provider's partner districts"):
        rows = db.session.scalars(
            select(Partnership.tenant_id).where(
                Partnership.provider_id == provider_id, Partnership.active.is_(True)
            )
        )
        return frozenset(rows)
