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
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Table,
    Uuid,
    and_,
    case,
    cast,
    delete,
    extract,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
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
    Referral,
    ReferralEvent,
    ReferralFact,
    RollupWatermark,
    Student,
)
from baton.platform.models.base import utcnow
from baton.platform.models.cohorts import COHORT_COUNTS
from baton.platform.services import rollups
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
THIRTY_DAYS = 30
# Funnel stage of each status: a referral's stage is the highest it ever entered.
STAGE_OF = {
    "received": 1,
    "declined": 1,
    "redirected": 1,
    "accepted": 2,
    "scheduled": 3,
    "no-show": 3,
    "first-appointment-attended": 4,
    "engaged": 4,
}
# Still in care (or finished it) at the 30-day mark: counts as continuing.
CONTINUING = ("scheduled", "first-appointment-attended", "engaged", "closed-completed")
# Upper bucket edges (inclusive); a duration beyond the last edge lands in bucket -1.
BUCKETS = {
    "first-contact-hours": (1, 2, 4, 8, 12, 24, 48, 72, 120, 168, 336, 720),
    "first-appointment-days": (1, 2, 3, 5, 7, 10, 14, 21, 28, 42, 60, 90),
}
EXCLUDED = ("draft", "entered-in-error")

R, S, E = Referral.__table__, Student.__table__, ReferralEvent.__table__
FACTS = ReferralFact.__table__
ATTEMPTS, ESC, CRISIS = ContactAttempt.__table__, Escalation.__table__, CrisisRecord.__table__
WATERMARKS = RollupWatermark.__table__
DIMS = ("school_id", "provider_id", "tier", "preferred_language", "disability_or_iep", "grade")
PAIRS = (  # district table, county twin, value columns
    (DistrictRollup.__table__, CountyRollup.__table__, ("events",)),
    (CohortRollup.__table__, CountyCohortRollup.__table__, COHORT_COUNTS),
    (DurationRollup.__table__, CountyDurationRollup.__table__, ("referrals",)),
    (CaseRollup.__table__, CountyCaseRollup.__table__, ("cases",)),
)

# Scratch tables of one run (temporary: per connection, emptied at commit on PostgreSQL).
_scratch = MetaData()
TOUCHED_REFERRALS = Table(
    "touched_referrals",
    _scratch,
    Column("tenant_id", Uuid, primary_key=True),
    Column("referral_id", Uuid, primary_key=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
# What the touched referrals' events add up to, computed once (with real row counts for the
# planner) before the facts are: see _summarise_events.
TOUCHED_SUMMARY = Table(
    "touched_summary",
    _scratch,
    Column("tenant_id", Uuid, primary_key=True),
    Column("referral_id", Uuid, primary_key=True),
    Column("stage", Integer),
    Column("attended_at", DateTime(timezone=True)),
    Column("no_show_at", DateTime(timezone=True)),
    Column("bounces", Integer),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
TOUCHED_WEEKS = Table(
    "touched_weeks",
    _scratch,
    Column("tenant_id", Uuid, primary_key=True),
    Column("week_start", Date, primary_key=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
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
    _analyze(TOUCHED_REFERRALS)


def _analyze(table) -> None:
    """Fresh statistics for a scratch table, so the planner knows how many rows it holds."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"ANALYZE {table.name}"))


def _touch_weeks(*sources) -> None:
    stmt = _insert(TOUCHED_WEEKS).from_select(["tenant_id", "week_start"], union(*sources))
    db.session.execute(stmt.on_conflict_do_nothing())
    _analyze(TOUCHED_WEEKS)


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
    facts = _refresh_facts(now)
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
    return Refreshed(facts, groups, changed)


# ---------------------------------------------------------------- referral facts


def _refresh_facts(now: datetime) -> int:
    """Delete and recompute the facts of every referral in TOUCHED_REFERRALS."""
    touched = select(TOUCHED_REFERRALS.c.tenant_id, TOUCHED_REFERRALS.c.referral_id)
    db.session.execute(
        delete(FACTS).where(tuple_(FACTS.c.tenant_id, FACTS.c.referral_id).in_(touched))
    )
    _summarise_events()
    facts = fact_rows(now)
    columns = [c.name for c in facts.selected_columns]
    return db.session.execute(
        FACTS.insert().from_select(columns, facts),
        execution_options={"preserve_rowcount": True},
    ).rowcount


def fact_rows(now: datetime):
    """One fact row per touched, sent referral (formulas in ReferralFact's docstring)."""
    per = TOUCHED_SUMMARY
    sent_30 = _plus_days(R.c.sent_at, THIRTY_DAYS)
    attended_30 = _plus_days(per.c.attended_at, THIRTY_DAYS)
    matured = sent_30 <= now
    attended_matured = and_(per.c.attended_at.is_not(None), attended_30 <= now)
    return (
        select(
            R.c.tenant_id,
            R.c.id.label("referral_id"),
            _week_start(R.c.sent_at).label("cohort_week"),
            S.c.school_id,
            R.c.provider_id,
            R.c.tier,
            S.c.preferred_language,
            S.c.disability_or_iep,
            S.c.grade,
            R.c.high_need,
            R.c.sent_at,
            R.c.contact_confirmed_at.label("first_contact_at"),
            per.c.attended_at,
            func.coalesce(per.c.stage, 0).label("stage"),
            case(
                (and_(per.c.attended_at.is_(None), per.c.no_show_at.is_(None)), null()),
                (
                    or_(per.c.attended_at.is_(None), per.c.no_show_at < per.c.attended_at),
                    literal("no-show"),
                ),
                else_=literal("attended"),
            ).label("appointment_outcome"),
            (func.coalesce(per.c.bounces, 0) > 0).label("bounced"),
            _earlier_referral().label("repeat"),
            case((matured, _status_at(sent_30) == "engaged"), else_=null()).label("engaged_30d"),
            case((attended_matured, _status_at(attended_30).in_(CONTINUING)), else_=null()).label(
                "continuing_30d"
            ),
            case(
                (~matured, sent_30),
                (and_(per.c.attended_at.is_not(None), ~attended_matured), attended_30),
                else_=null(),
            ).label("due_at"),
        )
        .select_from(
            R.join(
                TOUCHED_REFERRALS,
                and_(
                    TOUCHED_REFERRALS.c.tenant_id == R.c.tenant_id,
                    TOUCHED_REFERRALS.c.referral_id == R.c.id,
                ),
            )
            .join(S, and_(S.c.tenant_id == R.c.tenant_id, S.c.id == R.c.student_id))
            .outerjoin(per, and_(per.c.tenant_id == R.c.tenant_id, per.c.referral_id == R.c.id))
        )
        .where(R.c.sent_at.is_not(None), R.c.status.not_in(EXCLUDED))
    )


def _summarise_events() -> None:
    """Fill TOUCHED_SUMMARY from the events of the touched referrals. A table of its own
    (with statistics) rather than a subquery: row-level security makes the planner guess a
    handful of rows, and it then loops over the whole aggregate once per referral."""
    summary = _event_summary()
    columns = [c.name for c in summary.selected_columns]
    db.session.execute(TOUCHED_SUMMARY.insert().from_select(columns, summary))
    _analyze(TOUCHED_SUMMARY)


def _event_summary():
    """Per touched referral: highest stage, first attendance, first no-show, bounces."""
    stage = case(*((E.c.to_status == s, n) for s, n in STAGE_OF.items()), else_=0)
    return (
        select(
            E.c.tenant_id,
            E.c.referral_id,
            func.max(stage).label("stage"),
            func.min(case((E.c.to_status == "first-appointment-attended", E.c.at))).label(
                "attended_at"
            ),
            func.min(case((E.c.to_status == "no-show", E.c.at))).label("no_show_at"),
            func.sum(case((E.c.to_status == "bounced", 1), else_=0)).label("bounces"),
        )
        .select_from(
            E.join(
                TOUCHED_REFERRALS,
                and_(
                    TOUCHED_REFERRALS.c.tenant_id == E.c.tenant_id,
                    TOUCHED_REFERRALS.c.referral_id == E.c.referral_id,
                ),
            )
        )
        .group_by(E.c.tenant_id, E.c.referral_id)
    )


def _status_at(moment) -> ColumnElement[str]:
    """The referral's status at ``moment``: the last event entered at or before it."""
    return (
        select(E.c.to_status)
        .where(E.c.tenant_id == R.c.tenant_id, E.c.referral_id == R.c.id, E.c.at <= moment)
        .order_by(E.c.at.desc(), E.c.seq.desc())
        .limit(1)
        .correlate_except(E)  # the referral and its summary come from the outer query
        .scalar_subquery()
    )


def _earlier_referral() -> ColumnElement[bool]:
    """The same student had a referral sent before this one (ties broken by id)."""
    other = R.alias("earlier")
    return (
        select(other.c.id)
        .where(
            other.c.tenant_id == R.c.tenant_id,
            other.c.student_id == R.c.student_id,
            other.c.sent_at.is_not(None),
            other.c.status.not_in(EXCLUDED),
            or_(
                other.c.sent_at < R.c.sent_at,
                and_(other.c.sent_at == R.c.sent_at, other.c.id < R.c.id),
            ),
        )
        .correlate(R)
        .exists()
    )


# ---------------------------------------------------------------- dialect helpers


def _plus_days(column, days: int):
    if db.session.get_bind().dialect.name == "postgresql":
        return column + literal_column(f"interval '{int(days)} days'")
    return func.strftime(literal_column("'%Y-%m-%d %H:%M:%f000'"), column, f"+{int(days)} days")


def hours_between(start, end):
    """Hours from ``start`` to ``end`` (timestamps), as a number, in SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def bucket_of(value, edges: tuple[int, ...]) -> ColumnElement[int]:
    """The first edge ``value`` does not exceed, or -1 beyond the last."""
    return case(*((value <= edge, edge) for edge in edges), else_=-1)
