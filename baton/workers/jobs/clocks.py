"""The clock sweep: find referrals that are due and act on them in their district's scope."""

from __future__ import annotations

import uuid
from itertools import groupby

from flask import current_app

from baton.platform.extensions import db
from baton.platform.models.base import utcnow
from baton.platform.services import clock, reminders
from baton.tenants.context import job_scope, system_scope
from baton.workers.queues import ESCALATIONS, enqueue
from baton.workers.runtime import job

CHUNK = 100  # referrals of one district handled in one transaction


@job
def sweep_due_referrals(limit: int = 20000) -> int:
    """Enqueue clock jobs for every due referral, one job per district chunk; returns how
    many referrals were due. Selecting consumes nothing: a referral still due at the next
    sweep is enqueued again, and the row lock makes the second job a no-op."""
    with system_scope("clock sweep: find due referrals"):
        due = clock.due_referrals(utcnow(), limit=limit)
    due.sort(key=lambda pair: pair[0])
    for tenant_id, pairs in groupby(due, key=lambda pair: pair[0]):
        ids = [str(referral_id) for _, referral_id in pairs]
        for start in range(0, len(ids), CHUNK):
            enqueue(ESCALATIONS, apply_referral_clocks, str(tenant_id), ids[start : start + CHUNK])
    return len(due)


@job
def apply_referral_clocks(tenant_id: str, referral_ids: list[str]) -> int:
    """Act on due clocks for referrals of one district, in one transaction. If any fails,
    nothing of the chunk is kept and each referral is retried as a job of its own, so one
    bad referral cannot hold up the others."""
    now = utcnow()
    try:
        with job_scope(uuid.UUID(tenant_id), "clock: act on due referrals"):
            done = clock.apply_due_clocks_many([uuid.UUID(r) for r in referral_ids], now)
            return sum(len(actions) for actions in done.values())
    except Exception:
        if len(referral_ids) == 1:
            raise
        db.session.rollback()
        current_app.logger.exception("clock chunk failed; retrying its referrals one by one")
        for referral_id in referral_ids:
            enqueue(ESCALATIONS, apply_referral_clocks, tenant_id, [referral_id])
        return 0


@job
def remind_stale_referrals() -> int:
    """Nudge navigators about referrals that have gone quiet; returns how many were told."""
    now = utcnow()
    with system_scope("reminders: find quiet referrals"):
        stale = reminders.stale_referrals(now)
    told = 0
    for tenant_id, referral_id in stale:
        with job_scope(tenant_id, "reminders: quiet referral"):
            told += reminders.remind_if_stale(referral_id, now)
    return told
