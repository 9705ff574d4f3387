"""Reading rollups into per-group ``Sums``: the only queries behind every metric.

The district family of tables is read through the ORM, so the scoping choke point and
row-level security keep a district to its own rows; the county family is read by the
county services in a named system scope. Nothing here reads the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, literal, null, select, tuple_, type_coerce, union_all

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
# The rollup tables of a family; a reader names the ones its metrics need (Metric.reads).
TABLES = ("cohorts", "durations", "cases", "events")


@dataclass(frozen=True)
class Family:
    cohorts: type
    durations: type
    cases: type
    events: type


DISTRICT = Family(CohortRollup, DurationRollup, CaseRollup, DistrictRollup)
COUNTY = Family(CountyCohortRollup, CountyDurationRollup, CountyCaseRollup, CountyRollup)


def read_sums(
    family: Family, first: date, last: date, breakdown: str | None, *where, tables=TABLES
) -> dict[object, Sums]:
    """Rollup sums of the weeks ``first``..``last`` per group of ``breakdown`` (None: one
    group, key None), filtered by ``where`` (criteria on the family's tables)."""
    return read_breakdowns(family, first, last, (breakdown,), *where, tables=tables)[breakdown]


def read_breakdowns(
    family: Family, first: date, last: date, breakdowns, *where, tables=TABLES
) -> dict[str | None, dict[object, Sums]]:
    """Rollup sums of the weeks ``first``..``last`` per group of each of ``breakdowns`` (None
    among them: the whole, one group keyed None), filtered by ``where`` (criteria on the
    family's tables), from the rollup ``tables`` only (of TABLES: what the caller's metrics
    read). One statement per table for every breakdown at once (GROUPING SETS)."""
    breakdowns = tuple(dict.fromkeys(breakdowns))
    result: dict[str | None, dict[object, Sums]] = {b: {} for b in breakdowns}

    def rows(model, keys, values, *only):
        for breakdown, group, row in _grouped(
            model, breakdowns, keys, values, (model.week_start.between(first, last), *only), where
        ):
            yield result[breakdown].setdefault(group, Sums()), row

    if "cohorts" in tables:
        m = family.cohorts
        for sums, values in rows(m, [], [getattr(m, c) for c in COHORT_COUNTS]):
            _add(sums.cohort, dict(zip(COHORT_COUNTS, values, strict=True)))
    if "durations" in tables:
        m = family.durations
        for sums, (measure, bucket, n) in rows(m, [m.measure, m.bucket], [m.referrals]):
            buckets = sums.durations.setdefault(measure, {})
            buckets[bucket] = buckets.get(bucket, 0) + int(n)
    if "cases" in tables:
        m = family.cases
        for sums, (kind, action, outcome, n) in rows(m, [m.kind, m.action, m.outcome], [m.cases]):
            _add(sums.cases, {(kind, action, outcome): n})
    if "events" in tables:
        m = family.events  # the metrics use these for bounces only (EVENT_STATUSES)
        only = m.to_status.in_(EVENT_STATUSES)
        for sums, (status, reason, n) in rows(m, [m.to_status, m.reason], [m.events], only):
            _add(sums.events, {(status, reason): n})
    return result


def _grouped(model, breakdowns, keys, values, conditions, where):
    """``(breakdown, group, (*keys, *sums))`` for every group of every breakdown: one
    GROUP BY GROUPING SETS on PostgreSQL, one UNION ALL of GROUP BYs on SQLite."""
    named = [b for b in breakdowns if b is not None]
    dims = [getattr(model, BREAKDOWNS[b][0]) for b in named]
    sums = [func.sum(v) for v in values]
    criteria = (*conditions, *_for(model, where))

    def by(b):
        return [] if b is None else [dims[named.index(b)]]

    if len(breakdowns) == 1:
        (only,) = breakdowns
        stmt = select(*by(only), *keys, *sums).where(*criteria).group_by(*by(only), *keys)
        for row in db.session.execute(stmt):
            yield only, (None if only is None else row[0]), tuple(row[len(by(only)) :])
        return
    if db.session.get_bind().dialect.name == "postgresql":
        # GROUPING(dims) has a bit per dimension (first = highest), set where not grouped by.
        sets = func.grouping_sets(*(tuple_(*by(b), *keys) for b in breakdowns))
        stmt = select(func.grouping(*dims), *dims, *keys, *sums).where(*criteria).group_by(sets)
        full = (1 << len(dims)) - 1
        which = {
            full if b is None else full ^ (1 << (len(dims) - 1 - named.index(b))): b
            for b in breakdowns
        }
    else:
        stmt = union_all(
            *(
                select(
                    literal(i),
                    *(d if by(b) and d is by(b)[0] else type_coerce(null(), d.type) for d in dims),
                    *keys,
                    *sums,
                )
                .where(*criteria)
                .group_by(*by(b), *keys)
                for i, b in enumerate(breakdowns)
            )
        )
        which = dict(enumerate(breakdowns))
    for row in db.session.execute(stmt):
        b = which[row[0]]
        yield b, (None if b is None else row[1 + named.index(b)]), tuple(row[1 + len(dims) :])


def weekly(family: Family, first: date, last: date, *where, tables=TABLES) -> dict[date, Sums]:
    """Sums per week (for trend charts)."""
    return read_sums(family, first, last, "week", *where, tables=tables)


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
