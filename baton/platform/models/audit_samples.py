"""Quarterly audit samples: the cases drawn, the rubric's pre-checks and the auditor's findings."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKeyConstraint, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)


class AuditSample(TenantKeyed, db.Model):
    """One draw of cases for a quarter. ``seed`` and ``population`` (the referral ids it drew
    from, in order) make the draw reproducible; ``strata`` says how many came from each."""

    __tablename__ = "audit_samples"
    __table_args__ = (Index(None, "tenant_id", "quarter"),)

    id: Mapped[uuid_pk]
    quarter: Mapped[str] = mapped_column(String(7))  # 2026-Q3
    seed: Mapped[int]
    size: Mapped[int]
    population: Mapped[list] = mapped_column(JSON)  # [[referral_id, stratum], ...] drawn from
    strata: Mapped[dict] = mapped_column(JSON)  # stratum -> cases drawn
    drawn_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    drawn_at: Mapped[timestamp]
    completed_at: Mapped[datetime | None] = mapped_column(aware)


class AuditCase(TenantKeyed, db.Model):
    """One sampled case (a referral, or for tier C a crisis record): the rubric checked from
    the data, then the auditor's finding."""

    __tablename__ = "audit_cases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "sample_id"], ["audit_samples.tenant_id", "audit_samples.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "crisis_id"], ["crisis_records.tenant_id", "crisis_records.id"]
        ),
        UniqueConstraint("tenant_id", "sample_id", "position"),
    )

    id: Mapped[uuid_pk]
    sample_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    crisis_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    position: Mapped[int]
    stratum: Mapped[str] = mapped_column(String(24))
    checks: Mapped[list] = mapped_column(JSON)  # [{rule, result: pass|fail|n/a, detail}]
    finding: Mapped[str | None] = mapped_column(String(16))  # confirmed | disputed | defect
    notes: Mapped[str | None] = mapped_column(String(1000))
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewed_at: Mapped[datetime | None] = mapped_column(aware)
