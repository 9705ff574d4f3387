"""What a principal may see of its own organisation: schools, partnerships, people, audit."""

from __future__ import annotations

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import (
    AuditLog,
    Membership,
    Partnership,
    ProviderOrg,
    Tenant,
    User,
)
from baton.platform.services.common import require_permission
from baton.tenants.context import require_principal
from baton.tenants.scoping import scoped


def district_partnerships() -> list[tuple[Partnership, ProviderOrg]]:
    """The caller's partnerships with the provider on the other side."""
    stmt = (
        scoped(Partnership)
        .add_columns(ProviderOrg)
        .join(ProviderOrg, ProviderOrg.id == Partnership.provider_id)
    )
    return db.session.execute(stmt.order_by(ProviderOrg.name)).all()


def district_members() -> list[tuple[User, Membership]]:
    """Staff holding a role in the caller's district (admins only)."""
    require_permission("admin.manage")
    principal = require_principal()
    stmt = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == principal.tenant_id)
        .order_by(Membership.role, User.name)
    )
    return db.session.execute(stmt).all()


def recent_audit(limit: int = 200) -> list[AuditLog]:
    require_permission("audit.read")
    stmt = scoped(AuditLog).order_by(AuditLog.at.desc()).limit(limit)
    return db.session.scalars(stmt).all()


def provider_partner_districts() -> list[tuple[Tenant, Partnership]]:
    """The districts a provider works with, for its intake staff."""
    require_permission("provider.referrals")
    stmt = scoped(Partnership).add_columns(Tenant).join(Tenant, Tenant.id == Partnership.tenant_id)
    return [(t, p) for p, t in db.session.execute(stmt.order_by(Tenant.name)).all()]
