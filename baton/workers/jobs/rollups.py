"""Metric rollups: count new status events every minute, reconcile and re-sum nightly."""

from __future__ import annotations

from datetime import timedelta

from baton.platform.models.base import utcnow
from baton.platform.services import rollups
from baton.tenants.context import system_scope
from baton.workers.runtime import job


@job
def roll_up_new_events(limit: int = 100_000) -> int:
    """Count up to ``limit`` new status events into the district rollups, then re-sum the
    county rollups of the weeks they fell in; returns how many events were counted.

    Cross-tenant by nature, so it runs in a system scope. Safe to run twice or concurrently:
    runs take turns on the watermark, and each event is counted by one run only.
    """
    with system_scope("rollups: count new status events of every district"):
        applied = rollups.apply_new_events(limit)
        if applied.events:
            rollups.rebuild_county_rollups(applied.first_week, applied.last_week)
    return applied.events


@job
def reconcile_rollups(days: int = 35) -> dict[str, int]:
    """Rebuild the district rollups of the last ``days`` days (whole weeks) from the event
    log, correcting drift and counting events that committed too late for the incremental
    run, then re-sum the county rollups of those weeks. Returns the rows changed."""
    today = utcnow().date()
    with system_scope("rollups: nightly reconcile of every district"):
        district = rollups.reconcile(today - timedelta(days=days), today)
        county = rollups.rebuild_county_rollups(district.first_week, district.last_week)
    return {
        "district_removed": district.removed,
        "district_written": district.written,
        "county_removed": county.removed,
        "county_written": county.written,
    }
