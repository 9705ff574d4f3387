"""Demo governance data: escalations and crisis events around the seeded referrals, then the
rollups, so the dashboards, the bounce review and the county view show figures at once.

Driven through the real services at moments in the past (``travel_to``), like the demo
referrals. Idempotent: a district that already has escalations gets none.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from baton.platform.extensions import db
from baton.platform.models import Escalation, Membership, Referral, Student, Tenant, User
from baton.platform.models.base import as_utc, travel_to, utcnow
from baton.platform.services import cohorts, crisis, navigation, rollups, triage
from baton.platform.services.auth import principal_for
from baton.platform.services.settings import active_checklist
from baton.tenants.context import acting_as

STALLED = ("bounced", "sent", "received")


def seed_governance(rng: random.Random) -> None:
    """Escalations for the bounced and stalled demo referrals, a few crisis records, then
    every rollup brought up to date (no safety lag: nothing else is writing)."""
    tenants = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
    for tenant in tenants:
        lead = _member(tenant, "escalation_lead")
        if lead is None or _has_escalations(tenant):
            continue
        with acting_as(principal_for(lead, "ui")):
            _escalations(rng, tenant)
            _crises(rng, tenant)
    applied = rollups.apply_new_events(10**9, lag=timedelta(0))
    cohorts.refresh_changed(applied, lag=timedelta(0))


def _member(tenant, role):
    return db.session.scalars(
        select(Membership)
        .join(User)
        .where(Membership.tenant_id == tenant.id, Membership.role == role)
        .limit(1)
    ).first()


def _has_escalations(tenant) -> bool:
    return bool(
        db.session.scalar(
            select(func.count()).select_from(Escalation).where(Escalation.tenant_id == tenant.id)
        )
    )


def _escalations(rng, tenant) -> None:
    stalled = db.session.execute(
        select(Referral.id, Referral.sent_at, Referral.status)
        .where(
            Referral.tenant_id == tenant.id, Referral.status.in_(("bounced", "sent", "received"))
        )
        .order_by(Referral.sent_at)
    ).all()
    for referral_id, sent, status in stalled:
        sent_at = as_utc(sent)  # SQLite hands back naive UTC
        with travel_to(sent_at + timedelta(days=1, hours=2)):
            # Manual: the clock sweep opens the automatic kinds itself, exactly once.
            escalation = navigation.open_escalation(
                referral_id, reason=f"demo: {status} and not connected", kind="manual"
            )
        if rng.random() < 0.5 and sent_at + timedelta(days=6) < utcnow():
            with travel_to(sent_at + timedelta(days=rng.randint(3, 6))):
                navigation.close_escalation(
                    escalation.id, resolution=rng.choice(["connected", "alternative-plan"])
                )


def _crises(rng, tenant, count: int = 3) -> None:
    students = db.session.scalars(
        select(Student.id).where(Student.tenant_id == tenant.id).order_by(Student.local_id)
    ).all()
    checklist = active_checklist()
    for student_id in rng.sample(students, min(count, len(students))):
        opened = utcnow() - timedelta(days=rng.randint(2, 40))
        answers = {q["key"]: q["key"] == "immediate_risk" for q in checklist.questions}
        with travel_to(opened):
            concern = triage.record_concern(
                student_id,
                source="teacher-observation",
                answers=answers,
                high_need_answers={c["key"]: False for c in checklist.high_need_criteria},
            )
        record = db.session.scalars(
            select(crisis.CrisisRecord).where(
                crisis.CrisisRecord.tenant_id == tenant.id,
                crisis.CrisisRecord.concern_id == concern.id,
            )
        ).one()
        with travel_to(opened + timedelta(minutes=20)):
            crisis.add_crisis_step(record.id, action="called-988", role="escalation-lead")
            crisis.add_crisis_step(record.id, action="caregiver-notified", role="calls-caregiver")
        with travel_to(opened + timedelta(days=1)):
            crisis.close_crisis(record.id, return_to_school_plan="Check-ins with the counselor")
