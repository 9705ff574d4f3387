"""A job for the kill test: does the real clock work, then pauses before its commit, so
the test can kill the work horse while the effect is written but not committed."""

from __future__ import annotations

import os
import time
import uuid

from rq import get_current_job

from baton.platform.models.base import utcnow
from baton.platform.services import clock
from baton.tenants.context import job_scope
from baton.workers.runtime import job


@job
def apply_clocks_then_pause(tenant_id: str, referral_id: str, pause: float) -> list[str]:
    current = get_current_job()
    current.meta["pids"] = [*current.meta.get("pids", []), os.getpid()]  # runs, for the test
    current.save_meta()
    with job_scope(uuid.UUID(tenant_id), "test: clock job that pauses before commit"):
        done = clock.apply_due_clocks(uuid.UUID(referral_id), utcnow())
        time.sleep(pause)
        return done
