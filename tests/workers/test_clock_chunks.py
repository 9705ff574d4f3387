"""The clock acts on a district's due referrals a chunk at a time (one transaction, one
UPDATE of the referrals, one INSERT per table). A chunk must write exactly what acting on
each referral alone writes, and keep every guarantee: row locks between racing workers, the
district's scope, versions, and a poison referral failing alone."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import flask_migrate
import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import create_engine, select, text

from baton.platform.app import create_app
from baton.platform.extensions import db
from baton.platform.models import Caregiver, Referral
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import clock_updates, consent, contact, referrals
from baton.platform.services.notifications import PROVIDER_REFERRAL
from baton.tenants.context import acting_as, job_scope
from baton.workers.jobs.clocks import apply_referral_clocks
from baton.workers.queues import ESCALATIONS
from tests.conftest import base_config
from tests.factories import build_world, make_concern, principal_of

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
LEAD_TEXT = "New escalation ({}): a referral needs your attention."
DAY_TWO = "Day 2: make one more attempt and loop back with the provider."
BOUNCE = "Day 3 without contact: record a bounce reason and the next action."
REMINDER = "An intake appointment is tomorrow: remind the family and check for barriers."

# scenario: (sent this long before now, what happened since, what the clock must write:
# escalation kinds, notification texts, whether the referral row changes)
SCENARIOS = {
    "day one, no attempt": (4.5 * HOUR, {}, [], ["Day 1: 0 of 2 contact attempts made."], True),
    "day one, one attempt": (
        4.5 * HOUR,
        {"attempts": ["no-answer"]},
        [],
        ["Day 1: 1 of 2 contact attempts made."],
        True,
    ),
    "day one, attempts made": (4.5 * HOUR, {"attempts": ["no-answer"] * 2}, [], [], True),
    "contact overdue": (
        26 * HOUR,
        {},
        ["contact-overdue"],
        [LEAD_TEXT.format("contact overdue"), DAY_TWO],
        True,
    ),
    "day three": (
        49 * HOUR,
        {},
        ["contact-overdue"],
        [LEAD_TEXT.format("contact overdue"), BOUNCE, DAY_TWO],
        True,
    ),
    "high need, a week on": (
        7 * DAY + HOUR,
        {"high_need": True},
        ["contact-overdue", "high-need-unscheduled"],
        [
            LEAD_TEXT.format("contact overdue"),
            LEAD_TEXT.format("high need unscheduled"),
            BOUNCE,
            DAY_TWO,
        ],
        True,
    ),
    "reached": (26 * HOUR, {"attempts": ["reached"]}, [], [], True),
    "appointment tomorrow": (
        3 * DAY,
        {"attempts": ["reached"], "appointment": 23 * HOUR},
        [],
        [REMINDER],
        True,
    ),
    "nothing due yet": (HOUR, {}, [], [], False),
}


def _now() -> datetime:
    return utcnow().replace(second=0, microsecond=0)


def _consent(world):
    student = world.students_a[1]
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
    return caregiver.id


def _make(app, world, now, scenario: str):
    """One referral of district A in the state ``scenario`` describes, at ``now``."""
    ago, story, *_ = SCENARIOS[scenario]
    sent_at = now - ago
    with app.app_context():
        with travel_to(sent_at), acting_as(principal_of("navigator@a.test")):
            caregiver_id = _consent(world)
            concern = make_concern(
                world.students_a[1].id,
                high_need=story.get("high_need", False),
                daily_functioning=True,
            )
            referral_id = referrals.create_referral(
                student_id=world.students_a[1].id, concern_id=concern.id, provider_id=world.pa.id
            ).id
            db.session.commit()
        for n, outcome in enumerate(story.get("attempts", [])):
            with travel_to(sent_at + (n + 1) * HOUR), acting_as(principal_of("navigator@a.test")):
                contact.log_attempt(
                    referral_id, caregiver_id=caregiver_id, channel="phone", outcome=outcome
                )
                db.session.commit()
        if "appointment" in story:
            with travel_to(sent_at + 3 * HOUR), acting_as(principal_of("intake@pa.test")):
                referrals.transition_referral(referral_id, "accepted")
                referrals.transition_referral(
                    referral_id,
                    "scheduled",
                    appointment=referrals.Appointment(at=now + story["appointment"]),
                )
                db.session.commit()
    return referral_id


def _written(owner_engine, referral_id) -> dict:
    """What the clock wrote for one referral, free of ids: its clock columns and version, and
    its escalations, notifications and the escalations' audit rows."""
    with owner_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT status, version, contact_due_at, schedule_due_at, bounce_due_at,"
                " attempt_prompt_due_at, reminder_due_at, next_due_at, bounce_decision_due_since,"
                " created_at FROM referrals WHERE id = :r"
            ),
            {"r": referral_id},
        ).one()
        sent = row.created_at

        def rel(moment):  # times relative to the referral's own creation
            return None if moment is None else moment - sent

        escalations = conn.execute(
            text(
                "SELECT kind, reason, status, assigned_to, opened_by, opened_at FROM escalations"
                " WHERE referral_id = :r AND kind <> 'manual' ORDER BY kind"
            ),
            {"r": referral_id},
        ).all()
        notes = conn.execute(
            text(
                "SELECT kind, text, user_id, email_status, created_at FROM notifications"
                " WHERE referral_id = :r AND kind <> :sent ORDER BY created_at, kind, text"
            ),
            {"r": referral_id, "sent": PROVIDER_REFERRAL},  # the send's notice, not the clock's
        ).all()
        audits = conn.execute(
            text(
                "SELECT a.action, a.actor_kind, a.acting_for, a.surface, a.at, a.detail::text"
                " FROM audit_log a JOIN escalations e ON a.object_id = e.id::text"
                " WHERE e.referral_id = :r AND e.kind <> 'manual' ORDER BY a.detail::text"
            ),
            {"r": referral_id},
        ).all()
    return {
        "referral": (row.status, row.version, *(rel(m) for m in row[2:9])),
        "escalations": [(*e[:5], rel(e.opened_at)) for e in escalations],
        "notifications": [(*n[:4], rel(n.created_at)) for n in notes],
        "audit": [
            (*a[:4], rel(a.at), a.detail.replace(str(referral_id), "<referral>")) for a in audits
        ],
    }


def _run_chunk(app, tenant_id, referral_ids, now) -> int:
    with app.app_context(), travel_to(now):
        return apply_referral_clocks(str(tenant_id), [str(r) for r in referral_ids])


def test_a_chunk_writes_what_each_referral_alone_writes(app, world, owner_engine):
    now = _now()
    alone = {name: _make(app, world, now, name) for name in SCENARIOS}
    chunk = {name: _make(app, world, now, name) for name in SCENARIOS}
    before = {name: _written(owner_engine, r) for name, r in chunk.items()}

    for referral_id in alone.values():  # the per-referral path: one transaction each
        _run_chunk(app, world.tenant_a.id, [referral_id], now)
    # one chunk holding every scenario, and another district's referral, made due
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE referrals SET contact_due_at = :t, next_due_at = :t WHERE id = :r"),
            {"t": now - HOUR, "r": world.referral_b.id},
        )
    foreign = _written(owner_engine, world.referral_b.id)
    acted = _run_chunk(app, world.tenant_a.id, [*chunk.values(), world.referral_b.id], now)

    for name, (_, _, kinds, texts, changes) in SCENARIOS.items():
        written, expected = _written(owner_engine, chunk[name]), _written(owner_engine, alone[name])
        assert written == expected, name
        assert [e[0] for e in written["escalations"]] == kinds, name
        assert sorted(n[1] for n in written["notifications"]) == sorted(texts), name
        assert len(written["audit"]) == len(kinds), name
        version_before = before[name]["referral"][1]
        assert written["referral"][1] == version_before + (1 if changes else 0), name
    assert acted == sum(len(texts) for _, _, _, texts, _ in SCENARIOS.values())
    assert _written(owner_engine, world.referral_b.id) == foreign  # outside the job's district


def test_a_chunk_consumes_what_was_due(app, world, owner_engine):
    now = _now()
    referral_id = _make(app, world, now, "high need, a week on")
    _run_chunk(app, world.tenant_a.id, [referral_id], now)
    with app.app_context(), job_scope(world.tenant_a.id, "test: read the clock"):
        referral = db.session.get(Referral, (world.tenant_a.id, referral_id))
        assert referral.contact_due_at is None and referral.bounce_due_at is None
        assert referral.schedule_due_at is None
        assert referral.bounce_decision_due_since == now
        assert referral.next_due_at is None  # the day-2 prompt was the last nudge
    assert _run_chunk(app, world.tenant_a.id, [referral_id], now + DAY) == 0


def test_overlapping_chunks_from_racing_workers_act_once(app, world, owner_engine):
    now = _now()
    ids = [_make(app, world, now, "contact overdue") for _ in range(4)]
    barrier, acted = threading.Barrier(2), []

    def work(chunk):
        barrier.wait()
        acted.append(_run_chunk(app, world.tenant_a.id, chunk, now))

    threads = [threading.Thread(target=work, args=(c,)) for c in (ids[:3], ids[1:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(acted) == 4 * 2  # contact-overdue and the day-2 prompt, once per referral
    for referral_id in ids:
        assert [e[0] for e in _written(owner_engine, referral_id)["escalations"]] == [
            "contact-overdue"
        ]


def test_a_poison_referral_fails_alone_and_the_rest_of_its_chunk_is_done(
    app, world, owner_engine, redis_client
):
    now = _now()
    good = [_make(app, world, now, "contact overdue") for _ in range(2)]
    poison = _make(app, world, now, "contact overdue")
    _run_chunk(app, world.tenant_a.id, [poison], now)
    # Due again while its escalation is still open: a second one breaks the unique index.
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE referrals SET contact_due_at = :t, next_due_at = :t WHERE id = :r"),
            {"t": now - HOUR, "r": poison},
        )
    assert _run_chunk(app, world.tenant_a.id, [good[0], poison, good[1]], now) == 0
    for referral_id in good:  # the chunk was rolled back as a whole ...
        assert _written(owner_engine, referral_id)["escalations"] == []

    queue = Queue(ESCALATIONS, connection=redis_client)
    assert queue.count == 3  # ... and each of its referrals queued as a job of its own
    with app.app_context():
        SimpleWorker([queue], connection=redis_client).work(burst=True)
    for referral_id in good:
        assert [e[0] for e in _written(owner_engine, referral_id)["escalations"]] == [
            "contact-overdue"
        ]
    with owner_engine.connect() as conn:
        still_due = conn.execute(
            text("SELECT contact_due_at FROM referrals WHERE id = :r"), {"r": poison}
        ).scalar()
    assert still_due is not None  # nothing of the failed attempt was kept
    assert len(_written(owner_engine, poison)["escalations"]) == 1
    failed = [queue.fetch_job(j) for j in queue.scheduled_job_registry.get_job_ids()]
    assert [j.args for j in failed] == [(str(world.tenant_a.id), [str(poison)])]  # retried later


def test_the_clock_refuses_to_change_more_than_its_columns(app, world):
    with app.app_context(), job_scope(world.tenant_a.id, "test: a rule gone wrong"):
        referral = db.session.get(Referral, (world.tenant_a.id, world.referral_a.id))
        referral.status = "withdrawn"  # a status change belongs to transition_referral
        with pytest.raises(RuntimeError, match="status"):
            clock_updates.write_clocks([referral])
        db.session.rollback()


def test_chunks_on_sqlite_the_embedded_default(tmp_path):
    url = f"sqlite:///{tmp_path}/clock.db"
    sqlite_app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url, REDIS_URL=None))
    engine = create_engine(url)
    try:
        with sqlite_app.app_context():
            flask_migrate.upgrade()
            world = build_world()
        now = _now()
        ids = [_make(sqlite_app, world, now, name) for name in ("contact overdue", "day three")]
        assert _run_chunk(sqlite_app, world.tenant_a.id, ids, now) == 2 + 3
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT r.version, r.contact_due_at, r.bounce_decision_due_since, e.kind"
                    " FROM referrals r JOIN escalations e ON e.referral_id = r.id"
                    " WHERE e.kind = 'contact-overdue' ORDER BY r.created_at"
                )
            ).all()
        assert [(r.contact_due_at, r.kind) for r in rows] == [(None, "contact-overdue")] * 2
        day_three, overdue = rows  # the day-three referral was sent first
        assert day_three.bounce_decision_due_since is not None
        assert overdue.bounce_decision_due_since is None
        assert {r.version for r in rows} == {2}  # created and sent, then the clock's write
    finally:
        engine.dispose()
        with sqlite_app.app_context():
            db.engine.dispose()
