"""Rollups beyond weekly event counts: per-referral facts, referral cohorts, duration
histograms and escalation/crisis cases, each for districts and (summed) for counties.

Why each exists (the metrics read only rollup tables, never the event log):

``referral_facts`` (tenant-owned) is the one row per sent referral the other district tables
are summed from: its breakdown dimensions, when it reached each stage of the funnel, whether
its first appointment was a no-show, whether it bounced or repeats an earlier referral of the
same student, and the two 30-day outcomes. It is recomputed from the event log, the referral
and its contact attempts whenever one of them changes (and when a 30-day outcome falls due),
so it is always a pure function of its sources. It is never shown: it is case-level.

``cohort_rollups`` sums the facts per district, sent week (the cohort) and dimensions:
funnel counts, no-shows, bounces, repeats, 30-day outcomes. ``duration_rollups`` counts the
same cohorts' referrals per fixed bucket of time to first contact (hours) and to first
attended appointment (days), so medians and 90th percentiles come from exact bucket counts.
``case_rollups`` counts escalations opened and closed (by kind and how they closed) and
crisis records opened and closed, per week of the happening.

The ``county_*`` twins are sums of the district rows (the school dropped, the district kept as
a dimension) and are not tenant-owned: the county view reads them in a system scope and
suppresses small cells before anything leaves the service (baton.platform.services.suppression).
Like ``district_rollups`` these are derived data without foreign keys.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.care import ContactAttempt, CrisisRecord, Escalation
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)


class _Dimensions:
    """The breakdowns every metric offers, in key order after the week."""

    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=2)
    tier: Mapped[str] = mapped_column(String(1), primary_key=True, sort_order=3)
    preferred_language: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=4)
    disability_or_iep: Mapped[bool] = mapped_column(primary_key=True, sort_order=5)
    grade: Mapped[str] = mapped_column(String(4), primary_key=True, sort_order=6)


class _DistrictKey(_Dimensions):
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=-10)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=0)
    school_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=1)


class _CountyKey(_Dimensions):
    county_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=-20)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-5)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=0)


class _CohortCounts:
    """Referrals of a cohort (sent in the week) counted by what became of them."""

    sent: Mapped[int] = mapped_column(default=0, sort_order=20)
    received: Mapped[int] = mapped_column(default=0, sort_order=21)
    accepted: Mapped[int] = mapped_column(default=0, sort_order=22)
    scheduled: Mapped[int] = mapped_column(default=0, sort_order=23)
    attended: Mapped[int] = mapped_column(default=0, sort_order=24)
    contacted: Mapped[int] = mapped_column(default=0, sort_order=25)
    appointment_outcomes: Mapped[int] = mapped_column(default=0, sort_order=26)
    no_shows: Mapped[int] = mapped_column(default=0, sort_order=27)
    bounced: Mapped[int] = mapped_column(default=0, sort_order=28)
    repeats: Mapped[int] = mapped_column(default=0, sort_order=29)
    high_need: Mapped[int] = mapped_column(default=0, sort_order=30)
    matured_30d: Mapped[int] = mapped_column(default=0, sort_order=31)
    engaged_30d: Mapped[int] = mapped_column(default=0, sort_order=32)
    attended_matured_30d: Mapped[int] = mapped_column(default=0, sort_order=33)
    continuing_30d: Mapped[int] = mapped_column(default=0, sort_order=34)


COHORT_COUNTS = tuple(
    c for c in _CohortCounts.__annotations__ if not c.startswith("_")
)  # value columns, in order


class ReferralFact(TenantKeyed, db.Model):
    """What became of one sent referral, with its breakdown dimensions (see module doc).

    ``stage``: furthest funnel stage reached: 0 sent, 1 received, 2 accepted, 3 scheduled,
    4 first appointment attended. ``engaged_30d`` / ``continuing_30d`` stay NULL until their
    30 days have passed; ``due_at`` is when the next of them falls due (the incremental run
    recomputes facts whose ``due_at`` has passed)."""

    __tablename__ = "referral_facts"
    __table_args__ = (Index(None, "due_at"), Index(None, "tenant_id", "cohort_week"))

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=-10)
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    cohort_week: Mapped[date] = mapped_column(Date)
    school_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    tier: Mapped[str] = mapped_column(String(1))
    preferred_language: Mapped[str] = mapped_column(String(16))
    disability_or_iep: Mapped[bool]
    grade: Mapped[str] = mapped_column(String(4))
    high_need: Mapped[bool]
    sent_at: Mapped[datetime] = mapped_column(aware)
    first_contact_at: Mapped[datetime | None] = mapped_column(aware)
    attended_at: Mapped[datetime | None] = mapped_column(aware)
    stage: Mapped[int] = mapped_column(SmallInteger)
    appointment_outcome: Mapped[str | None] = mapped_column(String(32))  # first one recorded
    bounced: Mapped[bool]
    repeat: Mapped[bool]
    engaged_30d: Mapped[bool | None]
    continuing_30d: Mapped[bool | None]
    due_at: Mapped[datetime | None] = mapped_column(aware)


class CohortRollup(_CohortCounts, _DistrictKey, TenantKeyed, db.Model):
    """Referral facts summed per district, sent week and dimensions."""

    __tablename__ = "cohort_rollups"


class CountyCohortRollup(_CohortCounts, _CountyKey, db.Model):
    __tablename__ = "county_cohort_rollups"


class _DurationKey:
    measure: Mapped[str] = mapped_column(String(24), primary_key=True, sort_order=10)
    bucket: Mapped[int] = mapped_column(primary_key=True, sort_order=11)
    referrals: Mapped[int] = mapped_column(default=0, sort_order=20)


class DurationRollup(_DurationKey, _DistrictKey, TenantKeyed, db.Model):
    """Referrals of a cohort per bucket of a duration. ``bucket`` is the bucket's upper edge
    (hours or days, see baton.platform.metrics.durations.BUCKETS); -1 is "longer"."""

    __tablename__ = "duration_rollups"


class CountyDurationRollup(_DurationKey, _CountyKey, db.Model):
    __tablename__ = "county_duration_rollups"


class _CaseKey:
    kind: Mapped[str] = mapped_column(String(32), primary_key=True, sort_order=10)
    action: Mapped[str] = mapped_column(String(8), primary_key=True, sort_order=11)
    outcome: Mapped[str] = mapped_column(String(24), primary_key=True, sort_order=12)
    cases: Mapped[int] = mapped_column(default=0, sort_order=20)


class CaseRollup(_CaseKey, _DistrictKey, TenantKeyed, db.Model):
    """Escalations (kind = escalation kind) and crisis records (kind ``crisis``, tier C, no
    provider) ``opened`` or ``closed`` in the week; ``outcome`` is how an escalation closed
    (connected, alternative-plan) or, for a closed crisis, whether the caregiver was notified."""

    __tablename__ = "case_rollups"


class CountyCaseRollup(_CaseKey, _CountyKey, db.Model):
    __tablename__ = "county_case_rollups"


# The incremental run finds what changed since its last pass by these timestamps.
Index(None, ContactAttempt.__table__.c.at)
Index(None, Escalation.__table__.c.opened_at)
Index(None, Escalation.__table__.c.closed_at)
Index(None, CrisisRecord.__table__.c.opened_at)
Index(None, CrisisRecord.__table__.c.closed_at)
