"""The district cohort, duration and case rows of the touched (district, week) groups,
recomputed from referral facts, escalations and crisis records (see services.cohorts)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, select, tuple_, union_all

from baton.platform.extensions import db
from baton.platform.models import CaseRollup, CohortRollup, DurationRollup
from baton.platform.models.cohorts import COHORT_COUNTS
from baton.platform.services.cohorts import (
    BUCKETS,
    CRISIS,
    DIMS,
    ESC,
    FACTS,
    NO_PROVIDER,
    TOUCHED_WEEKS,
    R,
    S,
    bucket_of,
    hours_between,
)
from baton.platform.services.rollups import _week_start, sync_rows

COHORTS, DURATIONS, CASES = CohortRollup.__table__, DurationRollup.__table__, CaseRollup.__table__


def sync_groups() -> int:
    """Make the cohort, duration and case rows of every group in TOUCHED_WEEKS equal their
    recount; only rows that differ are rewritten. Returns the rows removed and written."""
    changed = 0
    groups = select(TOUCHED_WEEKS.c.tenant_id, TOUCHED_WEEKS.c.week_start)
    first, last = db.session.execute(
        select(func.min(TOUCHED_WEEKS.c.week_start), func.max(TOUCHED_WEEKS.c.week_start))
    ).one()
    if first is None:
        return 0
    for table, values, wanted in (
        (COHORTS, COHORT_COUNTS, _cohort_counts(groups)),
        (DURATIONS, ("referrals",), _duration_counts(groups)),
        (CASES, ("cases",), _case_counts(groups, _span(first, last))),
    ):
        keys = tuple(c.name for c in table.primary_key.columns)
        current = select(*(table.c[k] for k in (*keys, *values))).where(
            tuple_(table.c.tenant_id, table.c.week_start).in_(groups)
        )
        removed, written = sync_rows(table, keys, values, current, wanted)
        changed += removed + written
    return changed


def _in_groups(groups):
    return tuple_(FACTS.c.tenant_id, FACTS.c.cohort_week).in_(groups)


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _cohort_counts(groups):
    """Facts summed per cohort; the formulas of each count are in metrics.definitions."""
    f = FACTS.c
    keys = [f.tenant_id, f.cohort_week, *(f[d] for d in DIMS)]
    counts = {
        "sent": func.count(),
        "received": _count(f.stage >= 1),
        "accepted": _count(f.stage >= 2),
        "scheduled": _count(f.stage >= 3),
        "attended": _count(f.stage >= 4),
        "contacted": _count(f.first_contact_at.is_not(None)),
        "appointment_outcomes": _count(f.appointment_outcome.is_not(None)),
        "no_shows": _count(f.appointment_outcome == "no-show"),
        "bounced": _count(f.bounced),
        "repeats": _count(f.repeat),
        "high_need": _count(f.high_need),
        "matured_30d": _count(f.engaged_30d.is_not(None)),
        "engaged_30d": _count(f.engaged_30d),
        "attended_matured_30d": _count(f.continuing_30d.is_not(None)),
        "continuing_30d": _count(f.continuing_30d),
    }
    assert tuple(counts) == COHORT_COUNTS
    return select(*keys, *counts.values()).where(_in_groups(groups)).group_by(*keys)


def _duration_counts(groups):
    """Per cohort and measure, referrals per bucket: hours sent -> first contact confirmed,
    days sent -> first appointment attended. Referrals without the stop are not counted."""
    f = FACTS.c
    parts = []
    for measure, stop, divisor in (
        ("first-contact-hours", f.first_contact_at, 1.0),
        ("first-appointment-days", f.attended_at, 24.0),
    ):
        value = hours_between(f.sent_at, stop) / divisor
        parts.append(
            select(
                f.tenant_id,
                f.cohort_week.label("week_start"),
                *(f[d] for d in DIMS),
                literal(measure).label("measure"),
                bucket_of(value, BUCKETS[measure]).label("bucket"),
            ).where(_in_groups(groups), stop.is_not(None))
        )
    each = union_all(*parts).subquery("durations")
    keys = [each.c[k] for k in ("tenant_id", "week_start", *DIMS, "measure", "bucket")]
    return select(*keys, func.count()).group_by(*keys)


def _span(first, last):
    """The timestamps of the weeks ``first``..``last`` (lets the case counts use the
    opened_at / closed_at indexes instead of reading every escalation each run)."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=7), time(), UTC)
    return lambda column: and_(column >= start, column < end)


def _case_counts(groups, within):
    """Escalations and crisis records opened, and closed, per week of the happening."""
    esc_dims = [S.c.school_id, R.c.provider_id, R.c.tier]
    crisis_dims = [S.c.school_id, NO_PROVIDER.label("provider_id"), literal("C").label("tier")]
    student = [S.c.preferred_language, S.c.disability_or_iep, S.c.grade]
    parts = []
    for action, column, outcome in (
        ("opened", "opened_at", literal("")),
        ("closed", "closed_at", func.coalesce(ESC.c.resolution, "")),
    ):
        week = _week_start(ESC.c[column])
        parts.append(
            select(
                ESC.c.tenant_id,
                week.label("week_start"),
                *esc_dims,
                *student,
                ESC.c.kind,
                literal(action).label("action"),
                outcome.label("outcome"),
            )
            .select_from(
                ESC.join(
                    R, and_(R.c.tenant_id == ESC.c.tenant_id, R.c.id == ESC.c.referral_id)
                ).join(S, and_(S.c.tenant_id == R.c.tenant_id, S.c.id == R.c.student_id))
            )
            .where(within(ESC.c[column]), tuple_(ESC.c.tenant_id, week).in_(groups))
        )
    notified = case(
        (CRISIS.c.caregiver_notified_at.is_not(None), "caregiver-notified"), else_="not-notified"
    )
    for action, column, outcome in (
        ("opened", "opened_at", literal("")),
        ("closed", "closed_at", notified),
    ):
        week = _week_start(CRISIS.c[column])
        parts.append(
            select(
                CRISIS.c.tenant_id,
                week.label("week_start"),
                *crisis_dims,
                *student,
                literal("crisis").label("kind"),
                literal(action).label("action"),
                outcome.label("outcome"),
            )
            .select_from(
                CRISIS.join(
                    S, and_(S.c.tenant_id == CRISIS.c.tenant_id, S.c.id == CRISIS.c.student_id)
                )
            )
            .where(within(CRISIS.c[column]), tuple_(CRISIS.c.tenant_id, week).in_(groups))
        )
    each = union_all(*parts).subquery("cases")
    keys = [each.c[k] for k in ("tenant_id", "week_start", *DIMS, "kind", "action", "outcome")]
    return select(*keys, func.count()).group_by(*keys)
