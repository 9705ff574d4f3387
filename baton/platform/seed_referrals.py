"""Demo referrals spread over the loop's states, driven through the real services.

Each referral follows a realistic path (sent, received, accepted, scheduled, attended ...)
with its steps replayed at their moments in the past (``travel_to``), so due clocks,
events and audit rows look as they would have. Idempotent: a district that already has
referrals gets none.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from baton.platform.extensions import db
from baton.platform.models import (
    Caregiver,
    Membership,
    Partnership,
    Referral,
    Service,
    Student,
    Tenant,
    User,
)
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import consent, contact, navigation, triage
from baton.platform.services import referrals as svc
from baton.platform.services.auth import principal_for
from baton.platform.services.settings import active_checklist
from baton.tenants.context import acting_as, system_scope

ACCEPT = [("received", 0.2), ("accepted", 1.0)]
SCHEDULE = [*ACCEPT, ("scheduled", 2.0)]
ATTEND = [*SCHEDULE, ("first-appointment-attended", 8.0)]
ENGAGE = [*ATTEND, ("engaged", 20.0)]
# (weight, steps); a step is (status, days after sending)
PATHS = [
    (8, []),
    (6, [("received", 0.3)]),
    (8, ACCEPT),
    (12, SCHEDULE),
    (6, ATTEND),
    (4, [*SCHEDULE, ("no-show", 8.0)]),
    (12, ENGAGE),
    (3, [*ENGAGE, ("disengaged", 30.0)]),
    (4, [("declined", 1.0)]),
    (3, [("redirected", 1.5)]),
    (6, [("bounced", 3.0)]),
    (5, [*ENGAGE, ("closed-completed", 40.0)]),
    (2, [*ACCEPT, ("closed-family-declined", 6.0)]),
    (3, [("bounced", 3.0), ("closed-alternative-plan", 5.0)]),
]
DISTRICT_MOVES = {"bounced", "closed-alternative-plan"}


def seed_referrals(rng: random.Random, per_district: int = 60) -> int:
    """Create up to ``per_district`` referrals in every district that has none; returns count."""
    created = 0
    with system_scope("demo seed: plan referrals"):
        tenants = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
        plans = [(t, _cast(t)) for t in tenants if not _has_referrals(t)]
    for _tenant, cast in plans:
        if cast is None:
            continue
        navigator, providers, students = cast
        for student_id in students[:per_district]:
            provider_id, provider_principal, service_id = rng.choice(providers)
            _one(rng, navigator, provider_principal, student_id, provider_id, service_id)
            created += 1
    return created


def _has_referrals(tenant) -> bool:
    return bool(
        db.session.scalar(
            select(func.count()).select_from(Referral).where(Referral.tenant_id == tenant.id)
        )
    )


def _cast(tenant):
    """The district's navigator, its partner providers (with an intake user and a service)
    and its students, or None when the district lacks any of them."""
    member = db.session.scalars(
        select(Membership)
        .join(User)
        .where(Membership.tenant_id == tenant.id, Membership.role == "navigator")
        .limit(1)
    ).first()
    providers = []
    for partnership in db.session.scalars(
        select(Partnership).where(Partnership.tenant_id == tenant.id, Partnership.active)
    ):
        intake = db.session.scalars(
            select(Membership).where(Membership.provider_id == partnership.provider_id)
        ).first()
        service = db.session.scalars(
            select(Service.id)
            .where(Service.provider_id == partnership.provider_id)
            .order_by(Service.name)
        ).first()
        if intake:
            providers.append((partnership.provider_id, principal_for(intake, "ui"), service))
    students = db.session.scalars(
        select(Student.id).where(Student.tenant_id == tenant.id).order_by(Student.local_id)
    ).all()
    if member is None or not providers or not students:
        return None
    return principal_for(member, "ui"), providers, students


def _one(rng, navigator, provider, student_id, provider_id, service_id) -> None:
    weights, paths = zip(*PATHS, strict=True)
    steps = rng.choices(paths, weights=weights)[0]
    last = steps[-1][1] if steps else 0
    sent_at = utcnow() - timedelta(days=last + rng.uniform(0.3, 6))
    high_need = rng.random() < 0.3
    with travel_to(sent_at - timedelta(hours=1)), acting_as(navigator):
        referral = _send(rng, student_id, provider_id, service_id, high_need)
        if referral is None:
            return
    for status, days in steps:
        with travel_to(sent_at + timedelta(days=days)):
            _step(rng, navigator, provider, referral, status)
    db.session.flush()


def _send(rng, student_id, provider_id, service_id, high_need):
    checklist = active_checklist()
    answers = {q["key"]: q["routes_to"] == "B" and rng.random() < 0.6 for q in checklist.questions}
    answers["daily_functioning"] = True
    high = {c["key"]: False for c in checklist.high_need_criteria}
    if high_need:
        high[rng.choice(list(high))] = True
    concern = triage.record_concern(
        student_id,
        source=rng.choice(triage.SOURCES),
        answers=answers,
        high_need_answers=high,
        summary="Worries raised by school staff",
    )
    caregiver = db.session.scalars(
        select(Caregiver).where(Caregiver.student_id == student_id)
    ).first()
    if caregiver is None:
        return None
    shares = ["referral-reason", "contact-details"]
    if rng.random() < 0.85:
        shares.append("status-feedback")
    consent.record_consent(
        student_id,
        provider_id=provider_id,
        consenter="caregiver",
        caregiver_id=caregiver.id,
        share_classes=shares,
        method="signed",
    )
    referral = svc.create_referral(
        student_id=student_id,
        concern_id=concern.id,
        provider_id=provider_id,
        service_id=service_id,
        caregiver_present=rng.random() < 0.7,
    )
    channel = next(iter(caregiver.allowed_channels), None)
    if channel:
        contact.log_attempt(
            referral.id,
            caregiver_id=caregiver.id,
            channel=channel,
            outcome=rng.choice(["reached", "reached", "no-answer"]),
        )
    return referral.id


def _step(rng, navigator, provider, referral_id, status) -> None:
    actor = navigator if status in DISTRICT_MOVES else provider
    with acting_as(actor):
        if status == "bounced":
            contact.record_bounce(
                referral_id,
                reason=rng.choice(
                    ["bad-contact-info", "capacity-delay", "language-access-gap", "family-declined"]
                ),
            )
            return
        appointment = None
        if status == "scheduled":
            appointment = svc.Appointment(
                at=(utcnow() + timedelta(days=rng.randint(2, 9))).replace(
                    hour=rng.randint(14, 21), minute=rng.choice((0, 30)), second=0, microsecond=0
                ),  # 14:00-21:30 UTC: daytime in US time zones
                place="Main clinic, 200 Lake St",
                what_to_bring="Insurance card",
            )
        referral = svc.access_referral(referral_id, audit=False)
        if status in (
            "scheduled",
            "first-appointment-attended",
            "no-show",
            "engaged",
            "disengaged",
        ) and not consent.consent_allows(referral, "status-feedback"):
            return  # without feedback consent the school only learns of closure
        reasons = {
            "declined": "no-capacity",
            "redirected": "service-not-offered",
            "disengaged": "stopped attending",
            "closed-family-declined": "family chose",
            "closed-alternative-plan": "school-based support instead",
        }
        svc.transition_referral(
            referral_id,
            status,
            reason=reasons.get(status),
            appointment=appointment,
            redirected_to="Prairie Youth Services",
        )
    if status == "no-show" and rng.random() < 0.5:
        with acting_as(navigator):
            navigation.add_barrier(referral_id, kind="transport", support="transport-help")
