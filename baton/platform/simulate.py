"""``baton simulate --days 90``: a realistic stretch of school days driven through the same
services and jobs as real use, so dashboards and queues have history to show.

Every district refers a few students a day; each referral follows one of the demo paths
(seed_referrals.PATHS); the clock sweep runs every six simulated hours. All actions are
put on one timeline and replayed in time order (``travel_to``), so escalations, prompts and
bounce decisions happen when they would have.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import Tenant
from baton.platform.models.base import travel_to, utcnow
from baton.platform.seed_referrals import PATHS, _cast, _send, _step
from baton.platform.services import clock
from baton.tenants.context import acting_as, job_scope, system_scope

SWEEP_EVERY = timedelta(hours=6)


def simulate(rng: random.Random, *, days: int, per_day: int) -> dict[str, int]:
    """Replay ``days`` days ending now; returns counts of what happened."""
    end = utcnow()
    start = end - timedelta(days=days)
    timeline: list[tuple[datetime, int, object]] = []
    with system_scope("simulation: plan"):
        casts = [
            c
            for t in db.session.scalars(select(Tenant).order_by(Tenant.slug))
            if (c := _cast(t)) is not None
        ]
    for day in range(days):
        for cast in casts:
            for _ in range(per_day):
                sent_at = start + timedelta(days=day, hours=rng.uniform(7, 15))
                _plan_referral(rng, timeline, cast, sent_at, end)
    moment = start
    while moment < end:
        timeline.append((moment, 1, _sweep))
        moment += SWEEP_EVERY
    counts = {"referrals": 0, "steps": 0, "clock_actions": 0}
    for at, _order, action in sorted(timeline, key=lambda item: (item[0], item[1])):
        with travel_to(at):
            kind, n = action(at)
        counts[kind] += n
    return counts


def _plan_referral(rng, timeline, cast, sent_at: datetime, end: datetime) -> None:
    navigator, providers, students = cast
    provider_id, provider_principal, service_id = rng.choice(providers)
    student_id = rng.choice(students)
    weights, paths = zip(*PATHS, strict=True)
    steps = rng.choices(paths, weights=weights)[0]
    high_need = rng.random() < 0.3
    holder: dict = {}

    def send(at):
        with acting_as(navigator):
            holder["id"] = _send(rng, student_id, provider_id, service_id, high_need)
        return "referrals", 1

    timeline.append((sent_at, 0, send))
    for status, days in steps:
        at = sent_at + timedelta(days=days)
        if at >= end:
            break

        def step(at, status=status):
            if holder.get("id") is None:
                return "steps", 0
            _step(rng, navigator, provider_principal, holder["id"], status)
            return "steps", 1

        timeline.append((at, 0, step))


def _sweep(at: datetime):
    with system_scope("simulation: clock sweep"):
        due = clock.due_referrals(at, limit=100000)
    done = 0
    for tenant_id, referral_id in due:
        with job_scope(tenant_id, "simulation: clock"):
            done += len(clock.apply_due_clocks(referral_id, at))
    db.session.flush()
    return "clock_actions", done
