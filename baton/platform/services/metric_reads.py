"""Reading rollups into per-group ``Sums``: the only queries behind every metric.

The district family of tables is read through the ORM, so the scoping choke point and
row-level security keep a district to its own rows; the county family is read by the
county services in a named system scope. Nothing here reads the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from baton.platform.extensions import db
from baton.platform.metrics.definitions import Sums
from baton.platform.models import (
    CaseRollup,
    CohortRollup,
    CountyCaseRollup,
    CountyCohortRollup,
    CountyDurationRollup,
    CountyRollup,
    DistrictRollup,
    DurationRollup,
)
from baton.platform.models.cohorts import COHORT_COUNTS

# breakdown -> (column name, label)
BREAKDOWNS = {
    "school": ("school_id", "School"),
    "provider": ("provider_id", "Provider"),
    "tier": ("tier", "Tier"),
    "language": ("preferred_language", "Preferred language"),
    "iep": ("disability_or_iep", "Disability / IEP"),
    "grade": ("grade", "Grade"),
    "district": ("tenant_id", "District"),
    "week": ("week_start", "Week"),
}
# Status events the metrics read from the event rollups (everything else comes from cohorts).
EVENT_STATUSES = ("bounced",)
DISTRICT_BREAKDOWNS = ("school", "provider", "tier", "language", "iep", "grade")
COUNTY_BREAKDOWNS = ("district", "provider", "tier", "language", "iep", "grade")


@dataclass(frozen=True)
class Family:
    cohorts: type
    durations: type
    cases: type
    events: type


DISTRICT = Family(CohortRollup, DurationRollup, CaseRollup, DistrictRollup)
COUNTY = Family(CountyCohortRollup, CountyDurationRollup, CountyCaseRollup, CountyRollup)


def read_sums(
    family: Family, first: date, last: date, breakdown: str | None, *where
) -> dict[object, Sums]:
    """Rollup sums of the weeks ``first``..``last`` per group of ``breakdown`` (None: one
    group, key None), filtered by ``where`` (criteria on the family's tables)."""
    groups: dict[object, Sums] = {}

    def group_of(model):
        if breakdown is None:
            return []
        return [getattr(model, BREAKDOWNS[breakdown][0])]

    def rows(model, keys, values, *only):
        by = group_of(model)
        stmt = (
            select(*by, *keys, *(func.sum(v) for v in values))
            .where(model.week_start.between(first, last), *_for(model, where), *only)
            .group_by(*by, *keys)
        )
        for row in db.session.execute(stmt):
            group = row[0] if by else None
            yield groups.setdefault(group, Sums()), tuple(row[len(by) :])

    m = family.cohorts
    for sums, values in rows(m, [], [getattr(m, c) for c in COHORT_COUNTS]):
        _add(sums.cohort, dict(zip(COHORT_COUNTS, values, strict=True)))
    m = family.durations
    for sums, (measure, bucket, n) in rows(m, [m.measure, m.bucket], [m.referrals]):
        buckets = sums.durations.setdefault(measure, {})
        buckets[bucket] = buckets.get(bucket, 0) + int(n)
    m = family.cases
    for sums, (kind, action, outcome, n) in rows(m, [m.kind, m.action, m.outcome], [m.cases]):
        _add(sums.cases, {(kind, action, outcome): n})
    m = family.events  # the metrics use these for bounces only (EVENT_STATUSES)
    only = m.to_status.in_(EVENT_STATUSES)
    for sums, (status, reason, n) in rows(m, [m.to_status, m.reason], [m.events], only):
        _add(sums.events, {(status, reason): n})
    return groups


def weekly(family: Family, first: date, last: date, *where) -> dict[date, Sums]:
    """Sums per week (for trend charts)."""
    return read_sums(family, first, last, "week", *where)


def total(groups: dict[object, Sums]) -> Sums:
    """The groups added together (every breakdown partitions the same rows)."""
    whole = Sums()
    for sums in groups.values():
        whole.add(sums)
    return whole


def _add(store: dict, more: dict) -> None:
    for key, n in more.items():
        store[key] = store.get(key, 0) + int(n or 0)


def _for(model, where) -> list:
    """The caller's criteria (functions of the model) for this table."""
    return [criterion(model) for criterion in where]
