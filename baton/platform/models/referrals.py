"""Referrals and their immutable event log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    and_,
    exists,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import as_utc, timestamp, utcnow, uuid_pk
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)
# The clock's due timestamps; the earliest is next_due_at, what sweeps select on.
DUE_COLUMNS = (
    "contact_due_at",
    "schedule_due_at",
    "bounce_due_at",
    "attempt_prompt_due_at",
    "reminder_due_at",
)


class Referral(TenantKeyed, db.Model):
    """One student referred to one provider. ``status`` follows baton.platform.lifecycle."""

    __tablename__ = "referrals"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "student_id"], ["students.tenant_id", "students.id"]),
        ForeignKeyConstraint(["tenant_id", "concern_id"], ["concerns.tenant_id", "concerns.id"]),
        Index(None, "tenant_id", "status", "next_due_at"),
        Index(None, "tenant_id", "student_id"),
        Index(None, "tenant_id", "created_at", "id"),
        Index(None, "provider_id", "status"),
        Index(None, "next_due_at"),
        # FHIR polls: a provider's (or district's) Tasks changed since a moment, in order.
        Index(None, "provider_id", "last_event_at", "id"),
        Index(None, "tenant_id", "last_event_at", "id"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    concern_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"))
    service_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("services.id"))
    consent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(32), default="draft")
    status_before_bounce: Mapped[str | None] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(1))
    high_need: Mapped[bool] = mapped_column(default=False)
    reason_text: Mapped[str | None] = mapped_column(String(500))
    intake_route: Mapped[str] = mapped_column(String(16))
    caregiver_present: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(aware, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(aware)
    received_at: Mapped[datetime | None] = mapped_column(aware)
    contact_confirmed_at: Mapped[datetime | None] = mapped_column(aware)
    ever_scheduled: Mapped[bool] = mapped_column(default=False)
    appointment_at: Mapped[datetime | None] = mapped_column(aware)
    appointment_place: Mapped[str | None] = mapped_column(String(300))
    appointment_link: Mapped[str | None] = mapped_column(String(500))
    what_to_bring: Mapped[str | None] = mapped_column(String(500))
    family_contact: Mapped[str | None] = mapped_column(String(200))
    decline_reason: Mapped[str | None] = mapped_column(String(40))
    redirected_to: Mapped[str | None] = mapped_column(String(300))
    close_reason: Mapped[str | None] = mapped_column(String(300))
    closed_at: Mapped[datetime | None] = mapped_column(aware)
    # Due timestamps: sweeps select only rows whose next_due_at has passed.
    contact_due_at: Mapped[datetime | None] = mapped_column(aware)
    schedule_due_at: Mapped[datetime | None] = mapped_column(aware)
    bounce_due_at: Mapped[datetime | None] = mapped_column(aware)
    attempt_prompt_due_at: Mapped[datetime | None] = mapped_column(aware)
    reminder_due_at: Mapped[datetime | None] = mapped_column(aware)  # day before the appointment
    next_due_at: Mapped[datetime | None] = mapped_column(aware)
    # Set by the clock sweep on day 3 without contact: a person must bounce it with a reason.
    bounce_decision_due_since: Mapped[datetime | None] = mapped_column(aware)
    event_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the last status event happened: a Task's lastUpdated (not updated_at, which the
    # clock sweeps move without any change a partner can see).
    last_event_at: Mapped[datetime | None] = mapped_column(aware)
    # The provider's own identifier for the referral (a FHIR Task's FILL identifier).
    provider_ref_system: Mapped[str | None] = mapped_column(String(300))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @classmethod
    def provider_criteria(cls, provider_id):
        return and_(cls.provider_id == provider_id, cls.status != "draft")

    @classmethod
    def single_referral_criteria(cls, referral_id):
        return cls.id == referral_id

    @property
    def priority(self) -> str:
        """``urgent`` for tier B or high-need, else ``routine`` (tier C is the crisis pathway)."""
        return "urgent" if self.tier == "B" or self.high_need else "routine"

    def refresh_next_due(self) -> None:
        dues = [d for d in (getattr(self, name) for name in DUE_COLUMNS) if d]
        self.next_due_at = min(as_utc(d) for d in dues) if dues else None


def _referral_for_provider(cls, provider_id):
    """Rows hanging off a referral are visible to the provider the referral is addressed to."""
    return exists(
        select(Referral.id).where(
            Referral.tenant_id == cls.tenant_id,
            Referral.id == cls.referral_id,
            Referral.provider_id == provider_id,
            Referral.status != "draft",
        )
    )


class ReferralEvent(TenantKeyed, db.Model):
    """An immutable status change: who, when, through which surface, from -> to, and why."""

    __tablename__ = "referral_events"
    __append_only__ = True
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]),
        UniqueConstraint("tenant_id", "referral_id", "seq"),
        Index(None, "tenant_id", "at"),
    )

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(aware, default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_kind: Mapped[str] = mapped_column(String(16))  # district, provider, system
    surface: Mapped[str] = mapped_column(String(8))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    provider_criteria = classmethod(_referral_for_provider)

    @classmethod
    def single_referral_criteria(cls, referral_id):
        return cls.referral_id == referral_id
