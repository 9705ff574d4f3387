"""A district admin's own world: staff and their roles, schools, partnerships (admins only).

Thin over provisioning (the CLI's idempotent builders), bound to the admin's district."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import Membership, Partnership, School, Tenant, User
from baton.platform.permissions import ROLES
from baton.platform.services import provisioning
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.platform.services.locations import check_location
from baton.tenants.scoping import access

DISTRICT_ROLES = tuple(role for role, kind in ROLES.items() if kind == "district")


def _tenant() -> Tenant:
    principal = require_permission("admin.manage")
    return db.session.get(Tenant, principal.tenant_id)


def add_staff(*, email: str, name: str, role: str, password: str) -> User:
    """Give a person a role in the admin's district (creating the account if it is new).

    Raises InvalidInput for a non-district role, a bad e-mail or a short password."""
    tenant = _tenant()
    if role not in DISTRICT_ROLES:
        raise InvalidInput(fields={"role": f"one of {', '.join(DISTRICT_ROLES)}"})
    try:
        user, created = provisioning.create_user(email, name, password, role, tenant=tenant)
    except InvalidInput as exc:
        raise InvalidInput(fields=_fields(exc)) from exc
    record_audit("grant-role", "user", user.id, detail={"role": role, "created": created})
    return user


def _fields(exc: InvalidInput) -> dict:
    """provisioning's messages are sentences; keep them next to the field they are about."""
    return {name: exc.detail for name in exc.fields} or {"email": exc.detail}


def remove_role(membership_id) -> None:
    """Take a district role away (the account stays, for the audit trail)."""
    tenant = _tenant()
    membership = db.session.scalars(
        select(Membership).where(Membership.id == membership_id, Membership.tenant_id == tenant.id)
    ).first()
    if membership is None:
        raise NotFound("No such role in your district")
    record_audit("revoke-role", "user", membership.user_id, detail={"role": membership.role})
    db.session.delete(membership)
    db.session.flush()


def add_school(*, name: str, code: str, latitude=None, longitude=None) -> School:
    """Add a school, with its location if known (both coordinates or neither).

    Raises InvalidInput (per field) for a missing name or code or a point that is not real."""
    tenant = _tenant()
    school, _ = provisioning.create_school(
        tenant, name, code, latitude=latitude, longitude=longitude
    )
    record_audit("create", "school", school.id)
    return school


def access_school(school_id: uuid.UUID) -> School:
    """One of the admin's district's schools; NotFound otherwise (foreign = missing)."""
    require_permission("admin.manage")
    school = access(db.session, School, school_id)
    if school is None:
        raise NotFound("No such school")
    return school


def set_school_location(school_id: uuid.UUID, *, latitude=None, longitude=None) -> School:
    """Set (or, with neither coordinate, clear) where one of the district's schools is.

    Raises NotFound for a school outside the district, InvalidInput (per field) for a point
    that is not real; nothing is stored then."""
    school = access_school(school_id)
    school.latitude, school.longitude = check_location(latitude, longitude)
    record_audit(
        "update",
        "school",
        school.id,
        detail={"latitude": school.latitude, "longitude": school.longitude},
    )
    db.session.flush()
    return school


def set_partnership_active(partnership_id: uuid.UUID, active: bool) -> Partnership:
    """Pause or resume a partnership: only active partnerships let referrals flow."""
    require_permission("admin.manage")
    partnership = access(db.session, Partnership, partnership_id)
    if partnership is None:
        raise NotFound("No such partnership")
    partnership.active = bool(active)
    record_audit("update", "partnership", partnership.id, detail={"active": partnership.active})
    db.session.flush()
    return partnership
