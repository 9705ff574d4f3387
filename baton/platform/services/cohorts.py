"""Referral facts and the rollups summed from them (cohorts, durations), and the case rollups
(escalations, crisis records): kept by the same runs as the event rollups.

Everything here is recomputed, never incremented: a run collects what changed since the last
one (referrals with events in the run's batch, contact attempts logged, facts whose 30-day
outcome fell due, escalations and crisis records opened or closed), recomputes those facts
from their sources, then recomputes the cohort, duration and case rows of every (district,
week) group they touched, and finally the county twins of exactly those groups. A recount is
idempotent, so a row is never counted twice; what a run can miss (a row committed later than
the safety lag behind the cursor) the nightly reconcile recounts, as for the event rollups.
Table meanings: ``baton.platform.models.cohorts``. Every function needs an unbound system scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    Uuid,
    and_,
    cast,
    delete,
    func,
    literal,
    select,
    tuple_,
    union,
    update,
)
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql import ColumnElement

from baton.platform.extensions import db
from baton.platform.models import (
    CaseRollup,
    CohortRollup,
    ContactAttempt,
    CountyCaseRollup,
    CountyCohortRollup,
    CountyDurationRollup,
    CountyRollup,
    CrisisRecord,
    DistrictRollup,
    DurationRollup,
    Escalation,
    RollupWatermark,
)
from baton.platform.models.base import utcnow
from baton.platform.models.cohorts import COHORT_COUNTS
from baton.platform.services import rollups
from baton.platform.services.referral_facts import (  # noqa: F401 - the rollups' vocabulary
    BUCKETS,
    CONTINUING,
    FACTS,
    STAGE_OF,
    TOUCHED_REFERRALS,
    TOUCHED_SUMMARY,
    TOUCHED_WEEKS,
    E,
    R,
    S,
    analyze,
    bucket_of,
    hours_between,
    refresh_facts,
)
from baton.platform.services.rollups import (
    SAFETY_LAG,
    Applied,
    _insert,
    _require_system,
    _week_start,
    sync_county,
)

ACTIVITY = "activity"  # watermark of the time-cursored sources (attempts, escalations, crises)
NO_PROVIDER = cast(literal(uuid.UUID(int=0), Uuid), Uuid)  # crisis records have none

ATTEMPTS, ESC, CRISIS = ContactAttempt.__table__, Escalation.__table__, CrisisRecord.__table__
WATERMARKS = RollupWatermark.__table__
DIMS = ("school_id", "provider_id", "tier", "preferred_language", "disability_or_iep", "grade")
PAIRS = (  # district table, county twin, value columns
    (DistrictRollup.__table__, CountyRollup.__table__, ("events",)),
    (CohortRollup.__table__, CountyCohortRollup.__table__, COHORT_COUNTS),
    (DurationRollup.__table__, CountyDurationRollup.__table__, ("referrals",)),
    (CaseRollup.__table__, CountyCaseRollup.__table__, ("cases",)),
)


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: referral facts recomputed, (district, week) groups recounted, and
    rollup rows (district and county) that differed and were rewritten."""

    facts: int
    groups: int
    changed: int


def refresh_changed(applied: Applied, *, lag: timedelta = SAFETY_LAG) -> Refreshed:
    """Recompute what changed since the last run: facts of the referrals the event batch
    ``applied`` touched, of referrals with contact attempts logged, and of facts due; then
    the cohort, duration and case rows of the groups touched, then their county twins. Call
    it in the same transaction as ``apply_new_events`` (its watermark lock is held)."""
    _require_system()
    _scratch_tables()
    now = utcnow()
    since, through = _move_activity_mark(now - lag)
    _touch_referrals(
        select(E.c.tenant_id, E.c.referral_id).where(applied.taken()),
        select(ATTEMPTS.c.tenant_id, ATTEMPTS.c.referral_id).where(
            _between(ATTEMPTS.c.at, since, through)
        ),
        select(FACTS.c.tenant_id, FACTS.c.referral_id).where(FACTS.c.due_at <= now),
    )
    _touch_weeks(
        select(E.c.tenant_id, _week_start(E.c.at)).where(applied.taken()),
        *_case_weeks(since, through),
    )
    return _recompute(now)


def reconcile_cohorts(window_start: date, window_end: date) -> Refreshed:
    """Recompute the facts of every referral sent in the weeks from ``window_start``'s to
    ``window_end``'s, and every cohort, duration and case row of those weeks (counting rows
    that committed too late for the incremental run), then their county twins; also the
    county event rows of those weeks. Takes the rollup watermark's lock."""
    _require_system()
    rollups._lock_watermark()
    _scratch_tables()
    first = rollups.week_of(window_start)
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(rollups.week_of(window_end) + timedelta(days=7), time(), UTC)
    _touch_referrals(select(R.c.tenant_id, R.c.id).where(R.c.sent_at >= start, R.c.sent_at < end))
    _touch_weeks(*_all_weeks(first, rollups.week_of(window_end)))
    return _recompute(utcnow())


def rebuild_county_groups() -> int:
    """The county twins of every (district, week) group in TOUCHED_WEEKS; rows rewritten."""
    changed = 0
    for district, county, values in PAIRS:
        groups = select(TOUCHED_WEEKS.c.tenant_id, TOUCHED_WEEKS.c.week_start)
        removed, written = sync_county(
            district,
            county,
            values,
            tuple_(district.c.tenant_id, district.c.week_start).in_(groups),
            tuple_(county.c.tenant_id, county.c.week_start).in_(groups),
        )
        changed += removed + written
    return changed


# ---------------------------------------------------------------- what changed


def _scratch_tables() -> None:
    conn = db.session.connection()
    for table in (TOUCHED_REFERRALS, TOUCHED_SUMMARY, TOUCHED_WEEKS):
        conn.execute(CreateTable(table, if_not_exists=True))
        conn.execute(delete(table))


def _move_activity_mark(new_mark: datetime) -> tuple[datetime | None, datetime]:
    """(previous mark, new mark) of the time cursor over attempts, escalations and crises."""
    row = db.session.execute(select(WATERMARKS.c.at).where(WATERMARKS.c.name == ACTIVITY)).first()
    if row is None:
        db.session.execute(
            _insert(WATERMARKS).values(name=ACTIVITY, at=new_mark, updated_at=utcnow())
        )
        return None, new_mark
    since = row.at
    db.session.execute(
        update(WATERMARKS)
        .where(WATERMARKS.c.name == ACTIVITY)
        .values(at=new_mark, updated_at=utcnow())
    )
    return since, new_mark


def _between(column, since, through) -> ColumnElement[bool]:
    if since is None:
        return column <= through
    return and_(column > since, column <= through)


def _touch_referrals(*sources) -> None:
    stmt = _insert(TOUCHED_REFERRALS).from_select(["tenant_id", "referral_id"], union(*sources))
    db.session.execute(stmt.on_conflict_do_nothing())
    analyze(TOUCHED_REFERRALS)


def _touch_weeks(*sources) -> None:
    stmt = _insert(TOUCHED_WEEKS).from_select(["tenant_id", "week_start"], union(*sources))
    db.session.execute(stmt.on_conflict_do_nothing())
    analyze(TOUCHED_WEEKS)


def _case_weeks(since, through) -> list:
    return [
        select(table.c.tenant_id, _week_start(table.c[column])).where(
            _between(table.c[column], since, through)
        )
        for table, column in (
            (ESC, "opened_at"),
            (ESC, "closed_at"),
            (CRISIS, "opened_at"),
            (CRISIS, "closed_at"),
        )
    ]


def _all_weeks(first: date, last: date) -> list:
    """Every (district, week) of the window that has anything to count."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=7), time(), UTC)
    return [
        *(
            select(table.c.tenant_id, _week_start(table.c[column])).where(
                table.c[column] >= start, table.c[column] < end
            )
            for table, column in (
                (R, "sent_at"),
                (ESC, "opened_at"),
                (ESC, "closed_at"),
                (CRISIS, "opened_at"),
                (CRISIS, "closed_at"),
            )
        ),
        *(
            select(table.c.tenant_id, table.c.week_start).where(
                table.c.week_start.between(first, last)
            )
            for pair in PAIRS
            for table in pair[:2]
        ),
    ]


def _recompute(now: datetime) -> Refreshed:
    facts = refresh_facts(now)
    # Cohorts of the touched referrals (their sent week) are touched groups too.
    _touch_weeks(
        select(R.c.tenant_id, _week_start(R.c.sent_at))
        .select_from(
            R.join(
                TOUCHED_REFERRALS,
                and_(
                    TOUCHED_REFERRALS.c.tenant_id == R.c.tenant_id,
                    TOUCHED_REFERRALS.c.referral_id == R.c.id,
                ),
            )
        )
        .where(R.c.sent_at.is_not(None))
    )
    from baton.platform.services import cohort_sums

    changed = cohort_sums.sync_groups()
    groups = db.session.execute(select(func.count()).select_from(TOUCHED_WEEKS)).scalar()
    changed += rebuild_county_groups()
    if changed:
        rollups.mark_changed()
    return Refreshed(facts, groups, changed)
