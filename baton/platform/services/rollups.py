"""Metric rollups: count status events into weekly district rows, reconcile, sum per county.

All of it is cross-tenant maintenance: every function requires an unbound system principal
(``system_scope("why")``), reads the event log of every district and writes rollup rows for
every district, under the rollup watermark's row lock so runs take turns. The statements
are set-based (INSERT ... SELECT ... GROUP BY), built with SQLAlchemy Core: an upsert with
ON CONFLICT on PostgreSQL and SQLite alike. How the cursor avoids double counting, and what
the reconcile is there to catch, is in ``baton.platform.models.rollups``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    Date,
    and_,
    case,
    cast,
    delete,
    except_,
    false,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, Select

from baton.platform import lifecycle
from baton.platform.errors import Forbidden
from baton.platform.extensions import db
from baton.platform.models import (
    CountyRollup,
    DistrictRollup,
    Referral,
    ReferralEvent,
    RollupWatermark,
    Student,
    Tenant,
)
from baton.platform.models.base import utcnow
from baton.tenants.context import require_principal

# How long an event waits before it is counted: time for the transaction that flushed it to
# commit. Events that turn up later than this are left to the reconcile.
SAFETY_LAG = timedelta(minutes=5)
WATERMARK = "district_rollups"
# The rollups' version: a new random event_id whenever a run changed any rollup row (the
# figures cache's key, baton.platform.services.figures_cache).
VERSION = "figures"
VERSION_SEEN = "baton_rollup_version"  # session.info: the version this transaction read

EVENTS = ReferralEvent.__table__
REFERRALS = Referral.__table__
STUDENTS = Student.__table__
DISTRICT = DistrictRollup.__table__
COUNTY = CountyRollup.__table__
WATERMARKS = RollupWatermark.__table__
TENANTS = Tenant.__table__

SHARED_KEYS = ("provider_id", "tier", "preferred_language", "disability_or_iep", "grade")
DISTRICT_KEYS = ("tenant_id", "week_start", "school_id", *SHARED_KEYS, "to_status", "reason")
COUNTY_KEYS = ("county_id", "week_start", "tenant_id", *SHARED_KEYS, "to_status", "reason")
# Reasons kept in the rollups: closed taxonomies only (free text never leaves the event log).
KEPT_REASONS = {"bounced": tuple(lifecycle.BOUNCE_REASONS), "declined": lifecycle.DECLINE_REASONS}


@dataclass(frozen=True)
class Applied:
    """What one incremental run counted: how many events, the weeks they fell in, and the
    ``(at, id)`` range ``(since, through]`` they were taken from (``since`` None: the start)."""

    events: int
    first_week: date | None = None
    last_week: date | None = None
    since: tuple | None = None
    through: tuple | None = None

    def taken(self) -> ColumnElement[bool]:
        """The events this run counted, as a condition on the event log."""
        if not self.events:
            return false()
        at_id = tuple_(EVENTS.c.at, EVENTS.c.id)
        after = true() if self.since is None else at_id > self.since
        return and_(after, at_id <= self.through)


@dataclass(frozen=True)
class Synced:
    """Rows a rebuild changed: removed (wrong or extra) and written (corrected or missing)."""

    first_week: date
    last_week: date
    removed: int
    written: int


def week_of(moment: date | datetime) -> date:
    """The Monday (UTC) starting the week of ``moment``; naive datetimes are taken as UTC."""
    if isinstance(moment, datetime):
        moment = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    return moment - timedelta(days=moment.weekday())


def apply_new_events(limit: int = 100_000, *, lag: timedelta = SAFETY_LAG) -> Applied:
    """Count the next ``limit`` events past the watermark into the district rollups.

    Only events at least ``lag`` old are taken, in ``(at, id)`` order; their counts are added
    to the matching rows (upsert) and the watermark moves to the last one, in one
    transaction. Raises Forbidden outside an unbound system scope.
    """
    _require_system()
    mark = _lock_watermark()
    after = _past(mark)
    batch = (
        select(EVENTS.c.at, EVENTS.c.id)
        .where(after, EVENTS.c.at <= utcnow() - lag)
        .order_by(EVENTS.c.at, EVENTS.c.id)
        .limit(limit)
        .subquery()
    )
    last = db.session.execute(
        select(batch.c.at, batch.c.id, func.count().over(), func.min(batch.c.at).over())
        .order_by(batch.c.at.desc(), batch.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return Applied(0)
    last_at, last_id, count, first_at = last
    counted = _district_counts(and_(after, tuple_(EVENTS.c.at, EVENTS.c.id) <= (last_at, last_id)))
    upsert = _insert(DISTRICT).from_select([*DISTRICT_KEYS, "events"], counted)
    upsert = upsert.on_conflict_do_update(
        index_elements=list(DISTRICT_KEYS),
        set_={"events": DISTRICT.c.events + upsert.excluded.events},
    )
    db.session.execute(upsert)
    db.session.execute(
        update(WATERMARKS)
        .where(WATERMARKS.c.name == WATERMARK)
        .values(at=last_at, event_id=last_id, updated_at=utcnow())
    )
    mark_changed()
    since = None if mark.at is None else (mark.at, mark.event_id)
    return Applied(count, week_of(first_at), week_of(last_at), since, (last_at, last_id))


def reconcile(window_start: date, window_end: date) -> Synced:
    """Rebuild the district rollups of every week from ``window_start``'s to ``window_end``'s
    from the event log, and correct the rows that drifted.

    Counts only events at or behind the watermark (the incremental path counts the rest), so
    events it skipped because they committed late are counted here, once. Only rows that
    differ are rewritten. Raises Forbidden outside an unbound system scope.
    """
    _require_system()
    first, last = week_of(window_start), week_of(window_end)
    mark = _lock_watermark()
    if mark.at is None:  # nothing rolled up yet: the rollups must be empty
        counted_so_far: ColumnElement[bool] = false()
    else:
        counted_so_far = tuple_(EVENTS.c.at, EVENTS.c.id) <= (mark.at, mark.event_id)
    in_window = and_(
        EVENTS.c.at >= datetime.combine(first, time(), UTC),
        EVENTS.c.at < datetime.combine(last + timedelta(days=7), time(), UTC),
        counted_so_far,
    )
    current = select(*(DISTRICT.c[k] for k in DISTRICT_KEYS), DISTRICT.c.events).where(
        DISTRICT.c.week_start.between(first, last)
    )
    counts = _district_counts(in_window)
    removed, written = sync_rows(DISTRICT, DISTRICT_KEYS, ("events",), current, counts)
    if removed or written:
        mark_changed()
    return Synced(first, last, removed, written)


def rebuild_county_rollups(
    first_week: date, last_week: date, tenant_ids: list | None = None
) -> Synced:
    """Make the county event rollups of the weeks from ``first_week``'s to ``last_week``'s
    (of the districts ``tenant_ids``, default all) the sums of their districts' rollups; a
    district counts in the county it belongs to now.

    Only rows that differ are rewritten. Raises Forbidden outside an unbound system scope.
    """
    _require_system()
    first, last = week_of(first_week), week_of(last_week)
    _lock_watermark()
    weeks = DISTRICT.c.week_start.between(first, last)
    county_weeks = COUNTY.c.week_start.between(first, last)
    if tenant_ids is not None:
        weeks = and_(weeks, DISTRICT.c.tenant_id.in_(tenant_ids))
        county_weeks = and_(county_weeks, COUNTY.c.tenant_id.in_(tenant_ids))
    removed, written = sync_county(DISTRICT, COUNTY, ("events",), weeks, county_weeks)
    if removed or written:
        mark_changed()
    return Synced(first, last, removed, written)


def sync_county(district, county, values, district_where, county_where) -> tuple[int, int]:
    """Make the ``county`` rows selected by ``county_where`` the sums of the ``district`` rows
    selected by ``district_where`` (school summed away, county from the district's tenant).
    The county table's key is its columns minus ``values``; returns (removed, written)."""
    keys = tuple(c.name for c in county.primary_key.columns)
    sources = {"county_id": TENANTS.c.county_id, **{k: district.c[k] for k in keys[1:]}}
    wanted = (
        select(*sources.values(), *(func.sum(district.c[v]) for v in values))
        .select_from(district.join(TENANTS, TENANTS.c.id == district.c.tenant_id))
        .where(district_where)
        .group_by(*sources.values())
    )
    current = select(*(county.c[k] for k in keys), *(county.c[v] for v in values)).where(
        county_where
    )
    return sync_rows(county, keys, values, current, wanted)


def mark_changed() -> None:
    """Give the rollups a new version, in the transaction that changed rollup rows (under the
    watermark lock): every cached figure read at the old version is then stale."""
    now = utcnow()
    db.session.info.pop(VERSION_SEEN, None)
    stmt = _insert(WATERMARKS).values(name=VERSION, at=now, event_id=uuid.uuid4(), updated_at=now)
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={c: stmt.excluded[c] for c in ("at", "event_id", "updated_at")},
        )
    )


# ---------------------------------------------------------------- helpers


def _require_system() -> None:
    if not require_principal().unbound_system:
        raise Forbidden("rollups are cross-tenant maintenance: run them in system_scope()")


def _lock_watermark():
    """The watermark row, locked until the transaction ends (created on first use).

    Locked by an UPDATE rather than SELECT ... FOR UPDATE so that SQLite, which has no row
    locks, takes its database write lock here and concurrent runs wait there as well."""
    touch = (
        update(WATERMARKS)
        .where(WATERMARKS.c.name == WATERMARK)
        .values(updated_at=utcnow())
        .returning(WATERMARKS.c.at, WATERMARKS.c.event_id)
    )
    row = db.session.execute(touch).first()
    if row is None:
        db.session.execute(
            _insert(WATERMARKS)
            .values(name=WATERMARK, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = db.session.execute(touch).one()
    return row


def _past(mark) -> ColumnElement[bool]:
    """Events after the watermark in (at, id) order."""
    if mark.at is None:
        return true()
    return tuple_(EVENTS.c.at, EVENTS.c.id) > (mark.at, mark.event_id)


def _insert(table):
    """INSERT with ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _week_start(at) -> ColumnElement[date]:
    """The Monday (UTC) of the week of a timestamp column, in SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        week = func.date_trunc(literal_column("'week'"), func.timezone(literal_column("'UTC'"), at))
        return cast(week, Date)
    # SQLite keeps UTC timestamps as text: forward to Sunday (or stay), back six days.
    return func.date(at, literal_column("'weekday 0'"), literal_column("'-6 days'"))


def _district_counts(where: ColumnElement[bool]) -> Select:
    """Events matching ``where`` counted per district rollup key, with the referral's and the
    student's dimensions, in DISTRICT_KEYS order then the count."""
    # The events are picked first (a range of the (at, id) index) and materialized, so the
    # joins are driven from them: row-level security's filters make the planner underestimate
    # every table, and left to itself it scans all referrals and probes each one's events.
    events = (
        select(
            EVENTS.c.tenant_id,
            EVENTS.c.referral_id,
            EVENTS.c.at,
            EVENTS.c.to_status,
            EVENTS.c.reason,
        )
        .where(where)
        .cte("counted_events")
        .prefix_with("MATERIALIZED")
    )
    per_event = (
        select(
            events.c.tenant_id,
            _week_start(events.c.at).label("week_start"),
            STUDENTS.c.school_id,
            REFERRALS.c.provider_id,
            REFERRALS.c.tier,
            STUDENTS.c.preferred_language,
            STUDENTS.c.disability_or_iep,
            STUDENTS.c.grade,
            events.c.to_status,
            _kept_reason(events.c.to_status, events.c.reason).label("reason"),
        )
        .select_from(
            events.join(
                REFERRALS,
                and_(
                    REFERRALS.c.tenant_id == events.c.tenant_id,
                    REFERRALS.c.id == events.c.referral_id,
                ),
            ).join(
                STUDENTS,
                and_(
                    STUDENTS.c.tenant_id == REFERRALS.c.tenant_id,
                    STUDENTS.c.id == REFERRALS.c.student_id,
                ),
            )
        )
        .subquery("per_event")
    )
    keys = [per_event.c[k] for k in DISTRICT_KEYS]
    return select(*keys, func.count().label("events")).group_by(*keys)


def sync_rows(table, keys, values, current: Select, wanted: Select) -> tuple[int, int]:
    """Make the rows ``current`` selects equal those ``wanted`` computes (both: ``keys`` then
    ``values`` columns): delete rows that are wrong or extra, then insert what is missing.
    Returns (removed, written)."""
    wrong = except_(current, wanted).subquery("wrong")
    removed = db.session.execute(
        delete(table).where(
            tuple_(*(table.c[k] for k in keys)).in_(select(*(wrong.c[k] for k in keys)))
        )
    ).rowcount
    missing = except_(wanted, current)
    written = db.session.execute(
        table.insert().from_select([*keys, *values], missing),
        execution_options={"preserve_rowcount": True},  # INSERT rowcount is dropped otherwise
    ).rowcount
    return removed, written


def _kept_reason(to_status, reason) -> ColumnElement[str]:
    """The event's reason when it is from a closed taxonomy (KEPT_REASONS), else ""."""
    return case(
        *(
            (and_(to_status == status, reason.in_(reasons)), reason)
            for status, reasons in KEPT_REASONS.items()
        ),
        else_=literal(""),
    )
