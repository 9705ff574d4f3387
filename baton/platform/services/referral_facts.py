"""Referral facts: what became of each sent referral, recomputed from its events, the
referral row and its student, for the referrals a rollup run touched (see services.cohorts).
Also the run's scratch tables and the dialect helpers the cohort sums share."""

from __future__ import annotations

from datetime import datetime

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
)
from sqlalchemy.sql import ColumnElement

from baton.platform.extensions import db
from baton.platform.models import Referral, ReferralEvent, ReferralFact, Student
from baton.platform.services.rollups import _week_start

R, S, E = Referral.__table__, Student.__table__, ReferralEvent.__table__
FACTS = ReferralFact.__table__

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


def analyze(table) -> None:
    """Fresh statistics for a scratch table, so the planner knows how many rows it holds."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"ANALYZE {table.name}"))


def refresh_facts(now: datetime) -> int:
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
    analyze(TOUCHED_SUMMARY)


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
