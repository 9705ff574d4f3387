"""Metric rollups: weekly counts of status transitions, fed incrementally from status events.

The metrics pages read only these tables, never the event log.

``district_rollups`` (tenant-owned, RLS like every tenant table): for each district, week
(Monday, UTC), school, provider, tier, the student's preferred language, disability/IEP flag
and grade, and the status a referral entered, how many events entered it that week.
``county_rollups`` is built from the district rows (never from events), keeps the district
as a dimension so a county view can show per-district rows, and drops the school. It is not
tenant-owned: aggregate views read it in a system scope and apply the county's suppression
threshold before showing anything.

How the incremental cursor never double counts, and what it can miss until the reconcile
---------------------------------------------------------------------------------------
Events are immutable and carry ``at`` (stamped by the application when the event is
flushed), but a transaction can commit after one that flushed later, so events do not
become visible in ``at`` order. The cursor in ``rollup_watermarks`` is the pair
``(at, event_id)`` of the last event rolled up, a total order over events:

* a run first locks the watermark row (by updating it), so runs, the reconcile and county
  rebuilds take turns;
* it rolls up exactly the events with ``watermark < (at, id) <= new mark``, where the new
  mark is at most ``limit`` events further on and never beyond ``now - SAFETY_LAG``, and
  moves the watermark to the new mark in the same transaction. Ranges never overlap, so an
  event is counted by the incremental path at most once, and a failed run counts nothing;
* waiting ``SAFETY_LAG`` before counting an event lets transactions that flushed it commit
  first; an event that becomes visible later than that with ``(at, id)`` already behind the
  watermark (a transaction open longer than the lag, a clock skewed by more than the lag,
  a back-dated import) is skipped by the incremental path, never counted twice;
* the nightly reconcile recounts its window from the event log, only events at or behind the
  watermark (those ahead of it are the incremental path's to count), under the same lock, and
  replaces rows that differ: skipped late events are counted then, and any other drift is
  corrected. So every event is counted exactly once as soon as a reconcile has covered its
  week; a late event older than the reconcile window needs a wider reconcile run by hand.

Dimensions are read from the referral (provider, tier: fixed at creation) and the student
(school, language, IEP flag, grade: these can change) when an event is rolled up; a
reconcile re-attributes its window to the student's values at that time. ``reason`` keeps the
reason of bounce and decline events (closed taxonomies), so the bounce review needs no log.

The other rollups (referral facts, cohorts, durations, escalation and crisis cases) and how
the same runs keep them are in ``baton.platform.models.cohorts`` and
``baton.platform.services.cohorts``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import utcnow
from baton.platform.models.referrals import ReferralEvent
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)


class DistrictRollup(TenantKeyed, db.Model):
    """Events entering ``to_status`` in one week, for one combination of the dimensions.

    Derived data (rebuildable from the event log), so ``tenant_id`` leads the key but carries
    no foreign key: its check cost a quarter of every incremental run."""

    __tablename__ = "district_rollups"

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, sort_order=-10)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tier: Mapped[str] = mapped_column(String(1), primary_key=True)
    preferred_language: Mapped[str] = mapped_column(String(16), primary_key=True)
    disability_or_iep: Mapped[bool] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(String(4), primary_key=True)
    to_status: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The event's reason where its taxonomy is closed (bounce and decline reasons), else "".
    reason: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    events: Mapped[int] = mapped_column(default=0)


class CountyRollup(db.Model):
    """District rollups summed per county (school dropped; the district kept as a dimension).

    Derived data, rebuilt from the district rows: no foreign keys (their checks took half of
    every rebuild)."""

    __tablename__ = "county_rollups"

    county_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tier: Mapped[str] = mapped_column(String(1), primary_key=True)
    preferred_language: Mapped[str] = mapped_column(String(16), primary_key=True)
    disability_or_iep: Mapped[bool] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(String(4), primary_key=True)
    to_status: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The event's reason where its taxonomy is closed (bounce and decline reasons), else "".
    reason: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    events: Mapped[int] = mapped_column(default=0)


class RollupWatermark(db.Model):
    """How far an incremental rollup has read its source: the last ``(at, event_id)`` counted."""

    __tablename__ = "rollup_watermarks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime | None] = mapped_column(aware)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(aware, default=utcnow)


# The cursor reads events across districts in (at, id) order; the (tenant_id, at) index
# cannot serve that, so the rollups bring an index of their own on the event log.
Index(None, ReferralEvent.__table__.c.at, ReferralEvent.__table__.c.id)
