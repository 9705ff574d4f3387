"""Metric rollups: count and recompute what changed every minute, reconcile nightly."""

from __future__ import annotations

from datetime import timedelta

from baton.platform.models.base import utcnow
from baton.platform.services import cohorts, rollups
from baton.tenants.context import system_scope
from baton.workers.runtime import job


@job
def roll_up_new_events(limit: int = 100_000) -> int:
    """Count up to ``limit`` new status events into the district event rollups, recompute
    the referral facts, cohort, duration and case rows they (and attempts, escalations and
    crisis records since the last run, and 30-day outcomes now due) touched, then re-sum the
    county rollups of exactly the (district, week) groups touched. Returns the events counted.

    Cross-tenant by nature, so it runs in a system scope. Safe to run twice or concurrently:
    runs take turns on the watermark, each event is counted by one run only, and everything
    else is recomputed, never incremented.
    """
    with system_scope("rollups: count new status events of every district"):
        applied = rollups.apply_new_events(limit)
        cohorts.refresh_changed(applied)
    return applied.events


@job
def reconcile_rollups(days: int = 35) -> dict[str, int]:
    """Rebuild every district rollup of the last ``days`` days (whole weeks) from the event
    log and the other sources, correcting drift and counting rows that committed too late for
    the incremental run, then re-sum the county rollups of those weeks. Returns the rows
    changed."""
    today = utcnow().date()
    with system_scope("rollups: nightly reconcile of every district"):
        district = rollups.reconcile(today - timedelta(days=days), today)
        refreshed = cohorts.reconcile_cohorts(today - timedelta(days=days), today)
    return {
        "district_removed": district.removed,
        "district_written": district.written,
        "rollup_rows_changed": refreshed.changed,
        "facts_recomputed": refreshed.facts,
    }
