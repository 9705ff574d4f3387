"""Appending to the audit log."""

from __future__ import annotations

import uuid

from baton.platform.extensions import db
from baton.platform.models import AuditLog
from baton.tenants.context import Principal, require_principal


def _acting_for(principal: Principal) -> str:
    scope = {
        "district": principal.tenant_id,
        "provider": principal.provider_id,
        "county": principal.county_id,
        "system": principal.reason,
    }[principal.kind]
    return f"{principal.kind}:{scope}"


def record_audit(
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    detail: dict | None = None,
    principal: Principal | None = None,
    request_id: str | None = None,
) -> AuditLog:
    """Append one audit row for the acting principal; flushed with the caller's transaction."""
    principal = principal or require_principal()
    row = AuditLog(
        id=uuid.uuid4(),  # known now: a flush of many is one batch with no RETURNING
        tenant_id=tenant_id if tenant_id is not None else principal.tenant_id,
        actor_user_id=principal.user_id,
        actor_kind=principal.kind,
        actor_role=principal.role,
        acting_for=_acting_for(principal),
        surface=principal.surface,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        request_id=request_id or principal.request_id,
        detail=detail or {},
    )
    db.session.add(row)
    return row


def record_list_read(object_type: str, rows) -> None:
    """One audit row per district for a page of records read together (a list or search)."""
    by_tenant: dict = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(str(row.id))
    for tenant_id, ids in by_tenant.items():
        record_audit("list", object_type, tenant_id=tenant_id, detail={"ids": ids})
