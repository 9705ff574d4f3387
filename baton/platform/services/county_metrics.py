"""The county commissioner's figures: cross-district aggregates from the county rollups only,
suppressed before anything leaves this module.

A commissioner's principal sees no tenant rows at all; the county rollups (not tenant-owned)
are read in a named system scope bound to nothing but the commissioner's own county, and
only the fixed tables below are published, one calendar month at a time, with the county's
threshold applied as ``baton.platform.metrics.suppression`` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from baton.platform import lifecycle
from baton.platform.errors import Forbidden
from baton.platform.extensions import db
from baton.platform.metrics.definitions import Sums
from baton.platform.metrics.periods import Month
from baton.platform.metrics.suppression import Published, suppress_margin, suppress_table
from baton.platform.models import County
from baton.platform.services import figures_cache
from baton.platform.services.common import require_permission
from baton.platform.services.metric_reads import (
    BREAKDOWNS,
    COUNTY,
    COUNTY_BREAKDOWNS,
    read_breakdowns,
    total,
)
from baton.platform.services.metrics import check_breakdown, labels
from baton.platform.services.navigation import ESCALATION_KINDS, RESOLUTIONS
from baton.tenants.context import system_scope


def _funnel(s: Sums) -> dict[str, int]:
    """Referrals of the month's cohorts by the furthest stage they reached (a partition)."""
    c = s.c
    return {
        "not-received": c("sent") - c("received"),
        "received": c("received") - c("accepted"),
        "accepted": c("accepted") - c("scheduled"),
        "scheduled": c("scheduled") - c("attended"),
        "attended": c("attended"),
    }


def _bounces(s: Sums) -> dict[str, int]:
    """Bounce events of the month by reason."""
    return {r: s.events.get(("bounced", r), 0) for r in lifecycle.BOUNCE_REASONS}


def _escalations_opened(s: Sums) -> dict[str, int]:
    return {
        k: sum(n for (kind, a, _o), n in s.cases.items() if kind == k and a == "opened")
        for k in ESCALATION_KINDS
    }


def _escalations_closed(s: Sums) -> dict[str, int]:
    return {
        r: sum(n for (k, a, o), n in s.cases.items() if k != "crisis" and a == "closed" and o == r)
        for r in RESOLUTIONS
    }


def _crises(s: Sums) -> dict[str, int]:
    return {"opened": s.cases.get(("crisis", "opened", ""), 0)}


@dataclass(frozen=True)
class TableKind:
    key: str
    title: str
    categories: Callable[[Sums], dict[str, int]]
    reads: str  # the rollup table (metric_reads.TABLES) its counts come from


TABLES = (
    TableKind("funnel", "Referrals sent, by furthest stage reached", _funnel, "cohorts"),
    TableKind("bounces", "Bounces, by reason", _bounces, "events"),
    TableKind("escalations_opened", "Escalations opened, by kind", _escalations_opened, "cases"),
    TableKind("escalations_closed", "Escalations closed, by how", _escalations_closed, "cases"),
    TableKind("crises", "Crisis events (tier C)", _crises, "cases"),
)


@dataclass
class CountyFigures:
    county: str
    month: Month
    threshold: int
    breakdown: str
    tables: dict[str, tuple[TableKind, Published, dict]]  # kind, table, group labels
    rates: dict[str, dict]  # group label -> {metric: rate or None}


def county_figures(month: Month, breakdown: str | None = None) -> CountyFigures:
    """The county's published tables for ``month`` by ``breakdown`` (district, provider,
    tier, language, iep, grade), suppressed. Raises Forbidden without county.metrics.

    The suppressed tables are cached (figures_cache) per county, month, breakdown,
    threshold and rollup version; the names of the groups are read fresh each time."""
    principal = require_permission("county.metrics")
    breakdown = check_breakdown(breakdown, COUNTY_BREAKDOWNS)
    county_id = principal.county_id
    if principal.kind != "county" or county_id is None:  # only a county's own figures
        raise Forbidden("County figures are for county commissioners")
    first, last = month.weeks()
    with system_scope("county view: suppressed aggregates of one county", principal.surface):
        county = db.session.get(County, county_id)
        threshold = county.suppression_threshold
        published = figures_cache.cached(
            "county",
            county_id,
            (month.label, breakdown, f"t{threshold}"),
            lambda: _suppressed(county_id, first, last, breakdown, threshold),
        )
        names = labels(breakdown, published["funnel"].rows)
    tables = {}
    for kind in TABLES:
        table = published[kind.key]
        table = replace(table, rows=sorted(table.rows, key=lambda g: names[g]))
        tables[kind.key] = (kind, table, names)
    return CountyFigures(
        county.name, month, threshold, breakdown, tables, _rates(tables["funnel"][1], names)
    )


def _suppressed(county_id, first, last, breakdown: str, threshold: int) -> dict[str, Published]:
    """Every published table of the weeks ``first``..``last``, suppressed, rows ordered by
    their names (in the county's system scope)."""
    groups = read_breakdowns(
        COUNTY,
        first,
        last,
        (breakdown,),
        lambda m: m.county_id == county_id,
        tables=tuple(dict.fromkeys(kind.reads for kind in TABLES)),
    )[breakdown]
    names = labels(breakdown, groups)
    whole = total(groups)
    return {kind.key: _publish(kind, groups, whole, names, threshold) for kind in TABLES}


def _publish(kind: TableKind, groups, whole: Sums, names, threshold: int) -> Published:
    """One table, suppressed with the margin computed from the county-wide totals (so every
    breakdown of the month hides the same column totals)."""
    columns = list(kind.categories(whole))
    margin = suppress_margin(kind.categories(whole), threshold)
    rows = sorted(groups, key=lambda g: names[g])
    cells = {(g, c): n for g in rows for c, n in kind.categories(groups[g]).items()}
    return suppress_table(rows, columns, cells, threshold, margin)


def _rates(funnel: Published, names) -> dict[str, dict]:
    """Conversion (attended / sent) per group, from published counts only."""
    out = {}
    for group in [*funnel.rows, None]:
        if group is None:
            attended = funnel.column_totals["attended"]
        else:
            attended = funnel.cell(group, "attended")
        sent = funnel.grand if group is None else funnel.row_totals[group]
        label = "County" if group is None else names[group]
        rate = attended / sent if attended is not None and sent else None
        out[label] = {"connected": rate}
    return out


def as_json(figures: CountyFigures) -> dict:
    """The same figures for the county's own tools: suppressed cells are null."""
    label = BREAKDOWNS[figures.breakdown][1]
    tables = {}
    for key, (kind, table, names) in figures.tables.items():
        tables[key] = {
            "title": kind.title,
            "columns": table.columns,
            "rows": [
                {
                    "group": names[g],
                    "cells": {c: table.cell(g, c) for c in table.columns},
                    "total": table.row_totals[g],
                }
                for g in table.rows
            ],
            "column_totals": table.column_totals,
            "total": table.grand,
        }
    return {
        "county": figures.county,
        "month": figures.month.label,
        "breakdown": figures.breakdown,
        "breakdown_label": label,
        "suppression_threshold": figures.threshold,
        "tables": tables,
        "rates": figures.rates,
    }
