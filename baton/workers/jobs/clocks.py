"""The clock sweep: find referrals that are due and act on each in its district's scope."""

from __future__ import annotations

import uuid

from baton.platform.models.base import utcnow
from baton.platform.services import clock
from baton.tenants.context import job_scope, system_scope
from baton.workers.queues import ESCALATIONS, enqueue
from baton.workers.runtime import job


@job
def sweep_due_referrals(limit: int = 500) -> int:
    """Enqueue one clock job per due referral (read across districts); returns how many."""
    with system_scope("clock sweep: find due referrals"):
        due = clock.due_referrals(utcnow(), limit=limit)
    for tenant_id, referral_id in due:
        enqueue(ESCALATIONS, apply_referral_clocks, str(tenant_id), str(referral_id))
    return len(due)


@job
def apply_referral_clocks(tenant_id: str, referral_id: str) -> list[str]:
    """Act on one referral's due clocks inside its own district's scope."""
    with job_scope(uuid.UUID(tenant_id), "clock: act on a due referral"):
        return clock.apply_due_clocks(uuid.UUID(referral_id), utcnow())
