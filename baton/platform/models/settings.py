"""Per-district settings: time standards, designated lead, consent policy."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import utcnow, uuid_pk
from baton.tenants.scoping import TenantKeyed


class TenantSettings(TenantKeyed, db.Model):
    __tablename__ = "tenant_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid_pk]
    contact_standard_hours: Mapped[int] = mapped_column(default=24)
    high_need_schedule_days: Mapped[int] = mapped_column(default=7)
    bounce_after_days: Mapped[int] = mapped_column(default=3)
    day1_attempts: Mapped[int] = mapped_column(default=2)
    day2_attempts: Mapped[int] = mapped_column(default=1)
    count_weekends: Mapped[bool] = mapped_column(default=True)
    count_holidays: Mapped[bool] = mapped_column(default=True)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates schools are closed
    student_may_consent: Mapped[bool] = mapped_column(default=False)
    designated_lead_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
