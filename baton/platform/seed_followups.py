"""Demo follow-ups: one pass of the contact clock over the seeded referrals (so the lead's
escalation queue and the navigator's bounce decisions have rows), and one crisis record per
district for the crisis pathway page. Idempotent like the rest of the seed."""

from __future__ import annotations

from sqlalchemy import func, select

from baton.platform.extensions import db
from baton.platform.models import CrisisRecord, Membership, Student, Tenant, User
from baton.platform.models.base import utcnow
from baton.platform.services import clock, crisis, triage
from baton.platform.services.auth import principal_for
from baton.platform.services.settings import active_checklist
from baton.tenants.context import acting_as, job_scope, system_scope


def run_clock_once() -> int:
    """What the cron sweep would do now: escalate, ask for bounce decisions, nudge."""
    now = utcnow()
    with system_scope("demo seed: due referrals"):
        due = clock.due_referrals(now, limit=5000)
    for tenant_id, referral_id in due:
        with job_scope(tenant_id, "demo seed: clock"):
            clock.apply_due_clocks(referral_id, now)
    db.session.flush()
    return len(due)


def seed_crises() -> int:
    """A tier C concern (with two documented steps) in each district that has none."""
    created = 0
    with system_scope("demo seed: plan crisis records"):
        tenants = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
        plans = [(t, _navigator(t), _student(t)) for t in tenants if not _has_crisis(t)]
    for _tenant, member, student_id in plans:
        if member is None or student_id is None:
            continue
        with acting_as(principal_for(member, "ui")):
            _crisis(student_id)
        created += 1
    return created


def _has_crisis(tenant) -> bool:
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(CrisisRecord)
            .where(CrisisRecord.tenant_id == tenant.id)
        )
    )


def _navigator(tenant):
    return db.session.scalars(
        select(Membership)
        .join(User)
        .where(Membership.tenant_id == tenant.id, Membership.role == "navigator")
    ).first()


def _student(tenant):
    return db.session.scalars(
        select(Student.id).where(Student.tenant_id == tenant.id).order_by(Student.local_id.desc())
    ).first()


def _crisis(student_id) -> None:
    checklist = active_checklist()
    answers = {q["key"]: q["key"] == "immediate_risk" for q in checklist.questions}
    high = {c["key"]: c["key"] == "safety_concern" for c in checklist.high_need_criteria}
    concern = triage.record_concern(
        student_id, source="teacher-observation", answers=answers, high_need_answers=high
    )
    record = db.session.scalars(
        select(CrisisRecord).where(CrisisRecord.concern_id == concern.id)
    ).one()
    crisis.add_crisis_step(record.id, action="stayed-with-student", role="stays-with-student")
    crisis.add_crisis_step(record.id, action="called-988", role="escalation-lead")
