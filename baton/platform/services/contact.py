"""The contact clock: logging attempts within safe-contact rules, bounces and their fixes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from baton.platform import lifecycle
from baton.platform.errors import InvalidInput, UnsafeContact
from baton.platform.extensions import db
from baton.platform.models import Bounce, Caregiver, ContactAttempt
from baton.platform.models.base import utcnow
from baton.platform.models.students import CONTACT_CHANNELS
from baton.platform.services.audit import record_audit
from baton.platform.services.common import actor_kind, require_permission, user_id
from baton.platform.services.referrals import access_referral, transition_referral
from baton.tenants.context import require_principal
from baton.tenants.scoping import access, scoped

OUTCOMES = ("reached", "no-answer", "voicemail", "wrong-number", "unsafe-to-contact", "declined")


def check_safe_contact(caregiver: Caregiver, channel: str, outcome: str) -> None:
    """Refuse, with the reason in words, an attempt the safe-contact preferences forbid."""
    if channel == "phone" and caregiver.do_not_call:
        raise UnsafeContact(f"{caregiver.name} must not be called (do-not-call is set).")
    if channel not in (caregiver.allowed_channels or []):
        allowed = ", ".join(caregiver.allowed_channels or []) or "none recorded"
        raise UnsafeContact(
            f"{channel} is not a safe channel for {caregiver.name}; safe channels: {allowed}."
        )
    if outcome == "voicemail" and caregiver.no_voicemail:
        raise UnsafeContact(f"No voicemail may be left for {caregiver.name}.")


def log_attempt(
    referral_id: uuid.UUID, *, caregiver_id: uuid.UUID, channel: str, outcome: str
) -> ContactAttempt:
    """Log a contact attempt. Reaching the family confirms contact and stops the contact clock."""
    require_permission("referral.manage", "provider.referrals")
    referral = access_referral(referral_id, audit=False)
    errors = {}
    if channel not in CONTACT_CHANNELS:
        errors["channel"] = f"one of {', '.join(CONTACT_CHANNELS)}"
    if outcome not in OUTCOMES:
        errors["outcome"] = f"one of {', '.join(OUTCOMES)}"
    if referral.status not in lifecycle.OPEN:
        errors["referral"] = f"the referral is {referral.status}; attempts are for open referrals"
    caregiver = _caregiver(referral, caregiver_id)
    if caregiver is None:
        errors["caregiver_id"] = "choose one of this student's caregivers"
    if errors:
        raise InvalidInput(fields=errors)
    check_safe_contact(caregiver, channel, outcome)
    attempt = ContactAttempt(
        tenant_id=referral.tenant_id,
        referral_id=referral.id,
        caregiver_id=caregiver.id,
        channel=channel,
        outcome=outcome,
        recorded_by=user_id(),
        actor_kind=actor_kind(require_principal()),
    )
    db.session.add(attempt)
    if outcome == "reached" and referral.contact_confirmed_at is None:
        referral.contact_confirmed_at = attempt.at or utcnow()
        referral.contact_due_at = None
        referral.bounce_due_at = None
        referral.bounce_decision_due_since = None
        referral.refresh_next_due()
    db.session.flush()
    record_audit(
        "create",
        "contact-attempt",
        attempt.id,
        tenant_id=referral.tenant_id,
        detail={"referral_id": str(referral.id), "outcome": outcome},
    )
    return attempt


def _caregiver(referral, caregiver_id) -> Caregiver | None:
    if require_principal().kind == "provider":
        # Providers reach caregivers only through an addressed referral whose consent
        # covers contact details.
        from sqlalchemy import select

        from baton.platform.services.consent import consent_allows
        from baton.tenants.context import system_scope

        if not consent_allows(referral, "contact-details"):
            return None
        with system_scope("provider attempt: caregiver of an addressed referral"):
            caregiver = db.session.scalars(
                select(Caregiver).where(
                    Caregiver.tenant_id == referral.tenant_id, Caregiver.id == caregiver_id
                )
            ).first()
    else:
        caregiver = access(db.session, Caregiver, caregiver_id)
    if caregiver is None or caregiver.student_id != referral.student_id:
        return None
    return caregiver


def access_attempt(attempt_id) -> ContactAttempt:
    """One contact attempt the caller may see (its referral's district or provider)."""
    from baton.platform.errors import NotFound

    require_permission("referral.read", "provider.referrals")
    attempt = access(db.session, ContactAttempt, attempt_id)
    if attempt is None:
        raise NotFound("No such contact attempt")
    return attempt


def list_attempts(referral_id) -> list[ContactAttempt]:
    referral = access_referral(referral_id, audit=False)
    return db.session.scalars(
        scoped(ContactAttempt)
        .where(ContactAttempt.referral_id == referral.id)
        .order_by(ContactAttempt.at)
    ).all()


def record_bounce(
    referral_id: uuid.UUID,
    *,
    reason: str,
    next_action: str | None = None,
    expected_version: int | None = None,
) -> Bounce:
    """Bounce a referral that could not connect: a reason from the taxonomy is required, and
    a next action (default: the reason's suggested fix) is created, due tomorrow."""
    require_permission("referral.manage")
    referral = transition_referral(
        referral_id, "bounced", reason=reason, expected_version=expected_version
    )
    fix = lifecycle.BOUNCE_REASONS[reason]
    bounce = Bounce(
        tenant_id=referral.tenant_id,
        referral_id=referral.id,
        reason=reason,
        suggested_fix=fix,
        next_action=(next_action or fix).strip()[:300],
        next_action_due_at=utcnow() + timedelta(days=1),
        recorded_by=user_id(),
    )
    db.session.add(bounce)
    db.session.flush()
    return bounce


def resume_after_bounce(referral_id: uuid.UUID, *, expected_version: int | None = None):
    """The next action worked: return to the status held before the bounce."""
    referral = access_referral(referral_id, audit=False)
    if referral.status != "bounced":
        raise InvalidInput(fields={"status": "only a bounced referral can resume"})
    target = referral.status_before_bounce
    referral = transition_referral(
        referral.id, target, reason="resumed after bounce", expected_version=expected_version
    )
    for bounce in db.session.scalars(
        scoped(Bounce).where(Bounce.referral_id == referral.id, Bounce.resolved_at.is_(None))
    ):
        bounce.resolved_at = utcnow()
    db.session.flush()
    return referral


def list_bounces(referral_id) -> list[Bounce]:
    referral = access_referral(referral_id, audit=False)
    return db.session.scalars(
        scoped(Bounce).where(Bounce.referral_id == referral.id).order_by(Bounce.at)
    ).all()
