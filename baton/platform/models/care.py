"""Concerns and triage, crisis records, consent, contact attempts, bounces, barriers,
escalations and service logs: everything recorded around a referral."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk
from baton.platform.models.referrals import _referral_for_provider
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)


def _student_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", "student_id"], ["students.tenant_id", "students.id"])


def _referral_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]
    )


class TriageChecklist(TenantKeyed, db.Model):
    """A versioned, per-district triage checklist and high-need criteria. Never edited in
    place: a change is a new version, so every concern keeps the rules that tiered it."""

    __tablename__ = "triage_checklists"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[uuid_pk]
    version: Mapped[int]
    questions: Mapped[list] = mapped_column(JSON)  # [{key, text, routes_to: A|B|C}]
    high_need_criteria: Mapped[list] = mapped_column(JSON)  # [{key, text}]
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[timestamp]


class Concern(TenantKeyed, db.Model):
    """A recorded concern about a student, with the triage answers and the tier they produced."""

    __tablename__ = "concerns"
    __table_args__ = (_student_fk(), Index(None, "tenant_id", "student_id"))

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(String(500))
    checklist_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    checklist_version: Mapped[int]
    answers: Mapped[dict] = mapped_column(JSON)
    high_need_answers: Mapped[dict] = mapped_column(JSON)
    tier: Mapped[str] = mapped_column(String(1))
    high_need: Mapped[bool]
    high_need_reasons: Mapped[list] = mapped_column(JSON, default=list)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    recorded_at: Mapped[timestamp]


class CrisisRecord(TenantKeyed, db.Model):
    """Tier C: the crisis pathway's timestamped steps, caregiver notification and return plan."""

    __tablename__ = "crisis_records"
    __table_args__ = (_student_fk(), Index(None, "tenant_id", "opened_at"))

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    concern_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    opened_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    opened_at: Mapped[timestamp]
    steps: Mapped[list] = mapped_column(JSON, default=list)  # [{at, action, role, by}]
    caregiver_notified_at: Mapped[datetime | None] = mapped_column(aware)
    return_to_school_plan: Mapped[str | None] = mapped_column(String(1000))
    closed_at: Mapped[datetime | None] = mapped_column(aware)


class Consent(TenantKeyed, db.Model):
    """Permission to share named classes of information with one provider."""

    __tablename__ = "consents"
    __table_args__ = (
        _student_fk(),
        Index(None, "tenant_id", "student_id", "provider_id"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"))
    consenter: Mapped[str] = mapped_column(String(16))  # caregiver | student
    caregiver_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    share_classes: Mapped[list] = mapped_column(JSON)
    method: Mapped[str] = mapped_column(String(24))
    witness: Mapped[str | None] = mapped_column(String(200))
    obtained_at: Mapped[timestamp]
    expires_on: Mapped[date | None]
    revoked_at: Mapped[datetime | None] = mapped_column(aware)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    revoke_reason: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    @classmethod
    def provider_criteria(cls, provider_id):
        return cls.provider_id == provider_id

    @classmethod
    def single_referral_criteria(cls, referral_id):
        """The consent the one referral relies on (a status link checks feedback consent)."""
        from baton.platform.models.referrals import Referral

        return cls.id.in_(select(Referral.consent_id).where(Referral.id == referral_id))


class ContactAttempt(TenantKeyed, db.Model):
    __tablename__ = "contact_attempts"
    __table_args__ = (_referral_fk(), Index(None, "tenant_id", "referral_id", "at"))

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    caregiver_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(24))
    at: Mapped[timestamp]
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_kind: Mapped[str] = mapped_column(String(16))

    provider_criteria = classmethod(_referral_for_provider)


class Bounce(TenantKeyed, db.Model):
    __tablename__ = "bounces"
    __table_args__ = (_referral_fk(), Index(None, "tenant_id", "referral_id"))

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(String(32))
    suggested_fix: Mapped[str] = mapped_column(String(300))
    next_action: Mapped[str] = mapped_column(String(300))
    next_action_due_at: Mapped[datetime | None] = mapped_column(aware)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    at: Mapped[timestamp]
    resolved_at: Mapped[datetime | None] = mapped_column(aware)


class Barrier(TenantKeyed, db.Model):
    """A barrier to connection and the support given for it (navigation)."""

    __tablename__ = "barriers"
    __table_args__ = (_referral_fk(), Index(None, "tenant_id", "referral_id"))

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(24))
    support: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default="open")
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    recorded_at: Mapped[timestamp]
    resolved_at: Mapped[datetime | None] = mapped_column(aware)


class Escalation(TenantKeyed, db.Model):
    """A case owned by the escalation lead until connection or an alternative plan."""

    __tablename__ = "escalations"
    __table_args__ = (
        _referral_fk(),
        Index(None, "tenant_id", "status", "opened_at"),
        # At most one open automatic escalation of a kind per referral: the last line of
        # defence behind the sweep's row lock.
        Index(
            "uq_escalations_open_automatic",
            "tenant_id",
            "referral_id",
            "kind",
            unique=True,
            postgresql_where=text("status = 'open' AND kind <> 'manual'"),
            sqlite_where=text("status = 'open' AND kind <> 'manual'"),
        ),
    )

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))  # manual, contact-overdue, high-need-unscheduled
    reason: Mapped[str | None] = mapped_column(String(300))
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(12), default="open")
    opened_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    opened_at: Mapped[timestamp]
    actions: Mapped[list] = mapped_column(JSON, default=list)
    resolution: Mapped[str | None] = mapped_column(String(24))
    closed_at: Mapped[datetime | None] = mapped_column(aware)
    closed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ServiceLog(TenantKeyed, db.Model):
    """Medicaid-ready documentation of a delivered service: no clinical content."""

    __tablename__ = "service_logs"
    __table_args__ = (_student_fk(), Index(None, "tenant_id", "service_date"))

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    service_date: Mapped[date]
    minutes: Mapped[int]
    units: Mapped[int]
    practitioner: Mapped[str] = mapped_column(String(200))
    place_of_service: Mapped[str] = mapped_column(String(4))  # CMS place-of-service code
    plan_ref: Mapped[str] = mapped_column(String(100))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[timestamp]
