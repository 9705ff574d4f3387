"""The contact clock on a controlled clock, races between sweeps, and real RQ workers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from baton.platform.extensions import db
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import clock, consent, contact, referrals
from baton.tenants.context import acting_as, job_scope
from tests.conftest import REDIS_URL
from tests.factories import make_concern, principal_of

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday, 08:00 in Chicago


def _send(app, world, *, high_need=False, at=T0):
    """A referral sent at ``at`` for A's second student (caregiver consented)."""
    from sqlalchemy import select

    from baton.platform.models import Caregiver

    student = world.students_a[1]
    with app.app_context(), travel_to(at), acting_as(principal_of("navigator@a.test")):
        caregiver = db.session.scalars(
            select(Caregiver).where(Caregiver.student_id == student.id)
        ).first()
        consent.record_consent(
            student.id,
            provider_id=world.pa.id,
            consenter="caregiver",
            caregiver_id=caregiver.id,
            method="signed",
            share_classes=["referral-reason", "status-feedback"],
        )
        concern = make_concern(student.id, high_need=high_need, daily_functioning=True)
        referral = referrals.create_referral(
            student_id=student.id, concern_id=concern.id, provider_id=world.pa.id
        )
        db.session.commit()
        return referral.id, caregiver.id


def _tick(app, world, referral_id, at, *, nudges: bool = False):
    """Run the clock for one referral at ``at``; by default only escalations and bounce
    decisions are returned (the attempt prompts and reminders have tests of their own)."""
    with app.app_context(), travel_to(at), job_scope(world.tenant_a.id, "test: clock"):
        done = clock.apply_due_clocks(referral_id, at)
        db.session.commit()
    if nudges:
        return done
    return [d for d in done if not d.startswith(("attempt-prompt", "appointment-reminder"))]


def _escalations(owner_engine, referral_id) -> list[str]:
    with owner_engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT kind FROM escalations WHERE referral_id = :r ORDER BY kind"),
                {"r": referral_id},
            )
            .scalars()
            .all()
        )


def test_contact_overdue_escalates_once_at_the_standard(app, world, owner_engine):
    referral_id, _ = _send(app, world)
    assert _tick(app, world, referral_id, T0 + timedelta(hours=23)) == []
    assert _tick(app, world, referral_id, T0 + timedelta(hours=24, minutes=1)) == [
        "contact-overdue"
    ]
    assert _tick(app, world, referral_id, T0 + timedelta(hours=30)) == []
    assert _escalations(owner_engine, referral_id) == ["contact-overdue"]


def test_confirmed_contact_stops_the_clock(app, world, owner_engine):
    referral_id, caregiver_id = _send(app, world)
    with (
        app.app_context(),
        travel_to(T0 + timedelta(hours=3)),
        acting_as(principal_of("navigator@a.test")),
    ):
        contact.log_attempt(
            referral_id, caregiver_id=caregiver_id, channel="phone", outcome="reached"
        )
        db.session.commit()
    assert _tick(app, world, referral_id, T0 + timedelta(days=5)) == []
    assert _escalations(owner_engine, referral_id) == []


def test_day_three_asks_for_a_bounce_decision(app, world, owner_engine):
    referral_id, _ = _send(app, world)
    assert "bounce-decision" not in _tick(app, world, referral_id, T0 + timedelta(days=1))
    assert _tick(app, world, referral_id, T0 + timedelta(days=2, minutes=1)) == ["bounce-decision"]
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT bounce_decision_due_since, status FROM referrals WHERE id = :r"),
            {"r": referral_id},
        ).one()
        told = conn.execute(
            text(
                "SELECT count(*) FROM notifications WHERE referral_id = :r"
                " AND kind = 'bounce-decision'"
            ),
            {"r": referral_id},
        ).scalar()
    assert row.bounce_decision_due_since is not None and row.status == "sent"  # a person bounces
    assert told == 1


def test_high_need_unscheduled_escalates_after_seven_days(app, world, owner_engine):
    referral_id, _ = _send(app, world, high_need=True)
    _tick(app, world, referral_id, T0 + timedelta(days=6, hours=23))
    assert _escalations(owner_engine, referral_id) == ["contact-overdue"]
    assert _tick(app, world, referral_id, T0 + timedelta(days=7, minutes=1)) == [
        "high-need-unscheduled"
    ]
    assert _escalations(owner_engine, referral_id) == ["contact-overdue", "high-need-unscheduled"]


def test_weekends_do_not_count_when_the_district_says_so(app, world, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenant_settings SET count_weekends = false WHERE tenant_id = :t"),
            {"t": world.tenant_a.id},
        )
    friday = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
    referral_id, _ = _send(app, world, at=friday)
    assert _tick(app, world, referral_id, friday + timedelta(hours=25)) == []  # Saturday
    assert _tick(app, world, referral_id, friday + timedelta(days=3, hours=1)) == [
        "contact-overdue"
    ]  # Monday


def test_racing_workers_escalate_once(app, world, owner_engine):
    referral_id, _ = _send(app, world)
    at = T0 + timedelta(days=1, hours=1)
    barrier, results = threading.Barrier(4), []

    def race():
        barrier.wait()
        results.append(_tick(app, world, referral_id, at))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(tuple, results)) == [(), (), (), ("contact-overdue",)]
    assert _escalations(owner_engine, referral_id) == ["contact-overdue"]


ROOT = Path(__file__).resolve().parents[2]


def _baton(database, *args, timeout=120):
    env = {
        **os.environ,
        "DATABASE_URL": database.app_url,
        "REDIS_URL": REDIS_URL,
        "BATON_ENV": "test",
        "SECRET_KEY": secrets.token_urlsafe(40),
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "baton"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _make_due(owner_engine, referral_id):
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE referrals SET contact_due_at = now() - interval '1 hour',"
                " next_due_at = now() - interval '1 hour' WHERE id = :r"
            ),
            {"r": referral_id},
        )


@pytest.mark.usefixtures("redis_client")
def test_real_worker_processes_the_sweep_once_even_after_two_sweeps(
    app, world, database, owner_engine
):
    _make_due(owner_engine, world.referral_a.id)
    first = _baton(database, "sweep")
    second = _baton(database, "sweep")  # a second cron instance racing the first
    assert "1 referral(s) due" in first.stdout and "1 referral(s) due" in second.stdout
    worked = _baton(database, "worker", "--burst", "escalations")
    assert worked.returncode == 0, worked.stderr
    assert _escalations(owner_engine, world.referral_a.id) == ["contact-overdue", "manual"]


def test_flushing_redis_loses_nothing(app, world, database, owner_engine, redis_client):
    _make_due(owner_engine, world.referral_a.id)
    assert "1 referral(s) due" in _baton(database, "sweep").stdout
    redis_client.flushdb()  # the queued job is gone ...
    assert "1 referral(s) due" in _baton(database, "sweep").stdout  # ... the next sweep restores it
    assert _baton(database, "worker", "--burst").returncode == 0
    assert _escalations(owner_engine, world.referral_a.id) == ["contact-overdue", "manual"]


def test_worker_health_reports_no_live_worker(database, redis_client):
    result = _baton(database, "health", "worker")
    assert result.returncode == 1 and "no live worker" in result.stderr


def _notifications(owner_engine, referral_id, kind) -> list[str]:
    with owner_engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT text FROM notifications WHERE referral_id = :r"
                    " AND kind = :k ORDER BY created_at"
                ),
                {"r": referral_id, "k": kind},
            )
            .scalars()
            .all()
        )


def test_day_one_and_day_two_attempt_prompts(app, world, owner_engine):
    referral_id, caregiver_id = _send(app, world)
    assert _tick(app, world, referral_id, T0 + timedelta(hours=3), nudges=True) == []
    assert _tick(app, world, referral_id, T0 + timedelta(hours=4, minutes=1), nudges=True) == [
        "attempt-prompt-day-1"
    ]
    assert _tick(app, world, referral_id, T0 + timedelta(hours=26), nudges=True) == [
        "contact-overdue",
        "attempt-prompt-day-2",
    ]
    assert _notifications(owner_engine, referral_id, "attempt-prompt") == [
        "Day 1: 0 of 2 contact attempts made.",
        "Day 2: make one more attempt and loop back with the provider.",
    ]


def test_no_prompt_once_the_family_is_reached(app, world, owner_engine):
    referral_id, caregiver_id = _send(app, world)
    with (
        app.app_context(),
        travel_to(T0 + timedelta(hours=1)),
        acting_as(principal_of("navigator@a.test")),
    ):
        contact.log_attempt(
            referral_id, caregiver_id=caregiver_id, channel="phone", outcome="reached"
        )
        db.session.commit()
    assert _tick(app, world, referral_id, T0 + timedelta(hours=5), nudges=True) == []
    assert _notifications(owner_engine, referral_id, "attempt-prompt") == []


def test_reminder_the_day_before_the_appointment(app, world, owner_engine):
    referral_id, _ = _send(app, world)
    appointment = T0 + timedelta(days=4, hours=2)
    with (
        app.app_context(),
        travel_to(T0 + timedelta(hours=2)),
        acting_as(principal_of("intake@pa.test")),
    ):
        referrals.transition_referral(referral_id, "accepted")
        referrals.transition_referral(
            referral_id, "scheduled", appointment=referrals.Appointment(at=appointment)
        )
        db.session.commit()
    assert "appointment-reminder" not in _tick(
        app, world, referral_id, appointment - timedelta(days=1, minutes=5), nudges=True
    )
    assert "appointment-reminder" in _tick(
        app, world, referral_id, appointment - timedelta(hours=23), nudges=True
    )
    assert len(_notifications(owner_engine, referral_id, "appointment-reminder")) == 1


def test_school_holidays_do_not_count_when_the_district_says_so(app, world, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenant_settings SET count_holidays = false,"
                " holidays = '[\"2026-11-03\"]' WHERE tenant_id = :t"
            ),
            {"t": world.tenant_a.id},
        )
    referral_id, _ = _send(app, world)  # Monday; Tuesday is a holiday
    assert _tick(app, world, referral_id, T0 + timedelta(hours=25)) == []
    assert _tick(app, world, referral_id, T0 + timedelta(hours=48, minutes=1)) == [
        "contact-overdue"
    ]


def test_attending_the_first_appointment_closes_open_escalations(app, world, owner_engine):
    referral_id, _ = _send(app, world)
    _tick(app, world, referral_id, T0 + timedelta(hours=25))
    with (
        app.app_context(),
        travel_to(T0 + timedelta(days=2)),
        acting_as(principal_of("intake@pa.test")),
    ):
        referrals.transition_referral(referral_id, "accepted")
        referrals.transition_referral(
            referral_id, "scheduled", appointment=referrals.Appointment(at=T0 + timedelta(days=3))
        )
        referrals.transition_referral(referral_id, "first-appointment-attended")
        db.session.commit()
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, resolution FROM escalations WHERE referral_id = :r"),
            {"r": referral_id},
        ).all()
    assert [tuple(r) for r in rows] == [("closed", "connected")]


def test_a_worker_killed_mid_job_retries_and_the_effect_happens_once(
    app, world, database, owner_engine, redis_client
):
    import signal
    import time

    from rq import Queue
    from rq.job import Job

    from baton.workers.queues import ESCALATIONS, RETRY
    from tests.workers.slow_jobs import apply_clocks_then_pause

    _make_due(owner_engine, world.referral_a.id)
    queue = Queue(ESCALATIONS, connection=redis_client)
    job = queue.enqueue(
        apply_clocks_then_pause, str(world.tenant_a.id), str(world.referral_a.id), 4.0, retry=RETRY
    )
    env = {
        **os.environ,
        "DATABASE_URL": database.app_url,
        "REDIS_URL": REDIS_URL,
        "BATON_ENV": "test",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "PYTHONPATH": str(ROOT),  # the worker imports this test's job module
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "baton"), "worker", ESCALATIONS],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        horse = _wait_for(
            lambda: (Job.fetch(job.id, connection=redis_client).meta.get("pids") or [None])[0], 30
        )
        time.sleep(1.0)  # inside the pause: the escalation is written, not committed
        os.kill(horse, signal.SIGKILL)
        _wait_for(lambda: Job.fetch(job.id, connection=redis_client).get_status() == "finished", 60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    runs = Job.fetch(job.id, connection=redis_client).meta["pids"]
    assert len(runs) == 2 and runs[0] == horse  # killed once, then retried to the end
    assert _escalations(owner_engine, world.referral_a.id) == ["contact-overdue", "manual"]


def _wait_for(probe, seconds: float):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_quiet_referrals_get_a_weekly_reminder(app, world, owner_engine):
    from baton.workers.jobs.clocks import remind_stale_referrals

    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE referrals SET updated_at = now() - interval '15 days' WHERE id = :r"),
            {"r": world.referral_a.id},
        )
    with app.app_context():
        assert remind_stale_referrals() == 1
        assert remind_stale_referrals() == 0  # once a week, not once an hour
    texts = _notifications(owner_engine, world.referral_a.id, "stale-referral")
    assert texts == ["No change in 14 days (sent): check in on this referral."]
    with app.app_context(), travel_to(utcnow() + timedelta(days=8)):
        assert remind_stale_referrals() == 1
