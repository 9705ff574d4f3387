"""The district's governance figures: dashboard, weekly bounce review, monthly pack.

Read only from the district rollups (baton.platform.services.metric_reads), for roles with
``metrics.read``; the formulas live in baton.platform.metrics.definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from baton.platform import lifecycle
from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.metrics import equity
from baton.platform.metrics.definitions import (
    METRICS,
    Sums,
    Value,
    bounce_reasons,
    evaluate,
    tables_read,
)
from baton.platform.metrics.periods import Month, monday
from baton.platform.models import ProviderOrg, School, Service, Tenant
from baton.platform.models.base import utcnow
from baton.platform.models.students import GRADES
from baton.platform.services import figures_cache
from baton.platform.services.common import require_permission
from baton.platform.services.metric_reads import (
    BREAKDOWNS,
    DISTRICT,
    DISTRICT_BREAKDOWNS,
    read_breakdowns,
    total,
    weekly,
)
from baton.tenants.scoping import scoped

TREND_WEEKS = 12
TREND_METRICS = ("referrals", "connected")  # what the dashboard's trend chart draws
REVIEW_WEEKS = 8


@dataclass
class Breakdown:
    """One breakdown's groups: label -> metric values, and the equity signals found."""

    key: str
    label: str
    groups: dict[str, dict[str, Value]]
    signals: dict[str, list[equity.Signal]] = field(default_factory=dict)


@dataclass
class Figures:
    month: Month
    weeks: tuple[date, date]
    overall: dict[str, Value]
    breakdowns: dict[str, Breakdown]


def check_breakdown(key: str | None, allowed=DISTRICT_BREAKDOWNS) -> str:
    key = key or allowed[0]
    if key not in allowed:
        raise InvalidInput(fields={"breakdown": f"one of {', '.join(allowed)}"})
    return key


def district_figures(month: Month, breakdowns=DISTRICT_BREAKDOWNS) -> Figures:
    """Every metric for the district for ``month``, overall and per group of each breakdown,
    with the equity signals of each drop-off rate. Raises Forbidden without metrics.read."""
    principal = require_permission("metrics.read")
    first, last = month.weeks()
    breakdowns = tuple(breakdowns)
    sets = figures_cache.cached(
        "district",
        _district_of(principal),
        (month.label, ",".join(breakdowns)),
        lambda: read_breakdowns(DISTRICT, first, last, (None, *breakdowns)),
    )
    parts = {key: breakdown_of(key, sets[key], labels(key, sets[key])) for key in breakdowns}
    return Figures(month, (first, last), evaluate(total(sets[None])), parts)


def _district_of(principal) -> object:
    """The one district whose rows the principal reads (the cache's scope), else None."""
    if principal.kind == "district" or principal.bound_system:
        return principal.tenant_id
    return None


def breakdown_of(key: str, groups: dict[object, Sums], names: dict) -> Breakdown:
    """Values per group and the equity signals, labelled."""
    ordered = sorted(groups.items(), key=lambda item: _order(key, item[0], names))
    values = {names[g]: evaluate(s) for g, s in ordered}
    found = {}
    for metric_key, m in METRICS.items():
        if not m.equity:
            continue
        counts = {}
        for group, vals in values.items():
            v = vals[metric_key]
            counts[group] = (v.numerator or 0, v.denominator or 0)
        flagged = equity.signals(counts)
        if flagged:
            found[metric_key] = flagged
    return Breakdown(key, BREAKDOWNS[key][1], values, found)


def _order(key: str, group, names) -> tuple:
    """Grades in school order (PK, K, 1 ... 12), every other breakdown by its label."""
    if key == "grade" and group in GRADES:
        return (GRADES.index(group), "")
    return (len(GRADES), str(names[group]))


def trend(weeks: int = TREND_WEEKS, keys=TREND_METRICS) -> dict[date, dict[str, Value]]:
    """The metrics ``keys`` per week for the last ``weeks`` weeks (the current one included),
    read from the rollup tables those metrics need only."""
    per_week = _weekly(weeks, tables_read(keys))
    return {week: evaluate(sums, keys) for week, sums in per_week.items()}


def _weekly(weeks: int, tables) -> dict[date, Sums]:
    """Sums of each of the last ``weeks`` weeks (every week present), of ``tables``."""
    principal = require_permission("metrics.read")
    last = monday(utcnow().date())
    first = last - timedelta(weeks=weeks - 1)
    per_week = figures_cache.cached(
        "district-weeks",
        _district_of(principal),
        (first, last, ",".join(tables)),
        lambda: weekly(DISTRICT, first, last, tables=tables),
    )
    mondays = [first + timedelta(weeks=n) for n in range(weeks)]
    return {w: per_week.get(w, Sums()) for w in mondays}


@dataclass
class ReasonRow:
    reason: str
    fix: str
    per_week: list[int]
    total: int


def bounce_review(weeks: int = REVIEW_WEEKS) -> tuple[list[date], list[ReasonRow]]:
    """Bounces per reason for each of the last ``weeks`` weeks, with each reason's suggested
    fix (lifecycle.BOUNCE_REASONS), most frequent first."""
    per_week = _weekly(weeks, ("events",))
    mondays = list(per_week)
    counts = {w: bounce_reasons(sums) for w, sums in per_week.items()}
    rows = []
    for reason, fix in lifecycle.BOUNCE_REASONS.items():
        series = [counts[w].get(reason, 0) for w in mondays]
        rows.append(ReasonRow(reason, fix, series, sum(series)))
    return mondays, sorted(rows, key=lambda r: (-r.total, r.reason))


def provider_waits() -> dict[str, int | None]:
    """Provider name -> the longest current wait (days) its active services publish in the
    directory (directory data, not a rollup: it is what providers say today)."""
    require_permission("metrics.read", "county.metrics")
    rows = db.session.execute(
        select(ProviderOrg.name, func.max(Service.current_wait_days))
        .join(Service, Service.provider_id == ProviderOrg.id)
        .where(Service.active.is_(True))
        .group_by(ProviderOrg.name)
    ).all()
    return {name: wait for name, wait in rows}


def labels(key: str, groups) -> dict:
    """Human names for the groups of a breakdown."""
    keys = list(groups)
    if key == "school":
        rows = db.session.execute(scoped(School).with_only_columns(School.id, School.name))
        names = {school_id: name for school_id, name in rows}
        return {k: names.get(k, "Unknown school") for k in keys}
    if key == "provider":
        ids = [k for k in keys if k is not None]
        found = select(ProviderOrg.id, ProviderOrg.name).where(ProviderOrg.id.in_(ids))
        names = {provider_id: name for provider_id, name in db.session.execute(found)}
        return {k: names.get(k, "No provider (crisis)") for k in keys}
    if key == "district":
        rows = db.session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(keys)))
        names = {tenant_id: name for tenant_id, name in rows}
        return {k: names.get(k, "Unknown district") for k in keys}
    simple = {
        "tier": lambda k: f"Tier {k}",
        "iep": lambda k: "Disability / IEP" if k else "No IEP",
        "grade": lambda k: f"Grade {k}",
        "language": lambda k: str(k),
        "week": lambda k: k.isoformat(),
    }
    return {k: simple[key](k) for k in keys}


def governance_rows(current: Figures, previous: Figures) -> list[dict]:
    """The monthly pack as rows (also its CSV): every metric overall and per group of each
    breakdown, this month against the previous one."""
    rows = []
    for m in METRICS.values():
        rows.append(_row("District", "All referrals", m, current.overall, previous.overall))
    for part in current.breakdowns.values():
        before = previous.breakdowns[part.key].groups
        for group, values in part.groups.items():
            for m in METRICS.values():
                rows.append(_row(part.label, group, m, values, before.get(group, {})))
    return rows


def _row(section, group, m, now_values, before_values) -> dict:
    now = now_values.get(m.key, Value(None)).value
    before = before_values.get(m.key, Value(None)).value
    numbers = isinstance(now, int | float) and isinstance(before, int | float)
    change = now - before if numbers else None
    return {
        "breakdown": section,
        "group": group,
        "metric": m.label,
        "key": m.key,
        "this_month": now,
        "previous_month": before,
        "change": change,
    }


def as_json(figures: Figures, breakdown: str) -> dict:
    """The figures of one breakdown as plain data (the district JSON API)."""
    part = figures.breakdowns[breakdown]
    return {
        "month": figures.month.label,
        "weeks": list(figures.weeks),
        "breakdown": breakdown,
        "overall": figures.overall,
        "groups": [{"group": g, "values": v} for g, v in part.groups.items()],
        "signals": [
            {"metric": key, **vars(s), "group": str(s.group)}
            for key, found in part.signals.items()
            for s in found
        ],
    }
