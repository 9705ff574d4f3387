"""The append-only audit log: who, acting for whom, did what to which record, when, and how."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import utcnow, uuid_pk
from baton.tenants.scoping import TenantScoped


class AuditLog(TenantScoped, db.Model):
    """One row per read or change of a student record (and per sign-in).

    No update or delete path exists: the flush guard refuses them, and on PostgreSQL the
    app role holds only SELECT and INSERT on this table. ``tenant_id`` is empty only for
    events outside any district (a provider or county user signing in).
    """

    __tablename__ = "audit_log"
    __append_only__ = True
    __table_args__ = (Index(None, "tenant_id", "at"), Index(None, "tenant_id", "object_id"))

    id: Mapped[uuid_pk]
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_kind: Mapped[str] = mapped_column(String(16))  # district, provider, county, system
    actor_role: Mapped[str | None] = mapped_column(String(32))
    acting_for: Mapped[str] = mapped_column(String(80))  # e.g. "provider:<uuid>"
    surface: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
