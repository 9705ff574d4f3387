"""The cron schedule. ``baton cron`` runs it; ``rq cron baton.workers.schedule`` works too."""

from rq import cron

from baton.workers.jobs.clocks import remind_stale_referrals, sweep_due_referrals
from baton.workers.jobs.email import deliver_pending_emails
from baton.workers.jobs.fhir import deliver_due_fhir, poll_fhir_endpoints
from baton.workers.jobs.housekeeping import forget_idempotency_keys
from baton.workers.jobs.rollups import reconcile_rollups, roll_up_new_events
from baton.workers.queues import DEFAULT, ESCALATIONS, FHIR, ROLLUPS

# (job, queue, every N seconds)
SCHEDULE = [
    (sweep_due_referrals, ESCALATIONS, 60),
    (deliver_pending_emails, DEFAULT, 60),
    (deliver_due_fhir, FHIR, 15),  # EHR pushes, subscription notifications, heartbeats
    (poll_fhir_endpoints, FHIR, 300),  # mirror what EHRs changed on pushed Tasks
    (remind_stale_referrals, DEFAULT, 3600),
    (roll_up_new_events, ROLLUPS, 60),
    (reconcile_rollups, ROLLUPS, 24 * 3600),  # rebuilds the last 35 days, fixing any drift
    (forget_idempotency_keys, DEFAULT, 24 * 3600),  # so keys live 24-48 h by default
]


def register_all(scheduler) -> None:
    for func, queue_name, interval in SCHEDULE:
        scheduler.register(func, queue_name, interval=interval)


for _func, _queue, _interval in SCHEDULE:  # for `rq cron` loading this module
    cron.register(_func, queue_name=_queue, interval=_interval)
