"""In-app notifications, which are also the e-mail outbox (written with their cause)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk
from baton.platform.models.referrals import _referral_for_provider
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)


class Notification(TenantKeyed, db.Model):
    """A message for one staff member. The text never carries more student detail than the
    recipient may see; e-mail delivery state lives here so nothing is lost with Redis."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(None, "tenant_id", "user_id", "read_at"),
        Index(None, "email_status", "email_next_attempt_at"),
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(40))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[timestamp]
    read_at: Mapped[datetime | None] = mapped_column(aware)
    email_status: Mapped[str] = mapped_column(
        String(12), default="none"
    )  # none/pending/sent/failed
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_next_attempt_at: Mapped[datetime | None] = mapped_column(aware)
    email_error: Mapped[str | None] = mapped_column(String(300))

    # Provider intake staff are notified of referrals addressed to their organisation.
    provider_criteria = classmethod(_referral_for_provider)
