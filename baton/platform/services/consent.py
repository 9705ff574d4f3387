"""Capturing and revoking consent to share with a provider."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import or_

from baton.platform import lifecycle
from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import Caregiver, Consent, Partnership, Referral
from baton.platform.models.base import utcnow
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission, user_id
from baton.platform.services.settings import tenant_settings
from baton.platform.services.students import access_student
from baton.tenants.scoping import access, scoped

SHARE_CLASSES = ("referral-reason", "contact-details", "school-context", "status-feedback")
METHODS = ("signed", "electronic", "verbal-witnessed")


def is_active(consent: Consent, today: date | None = None) -> bool:
    today = today or utcnow().date()
    return consent.revoked_at is None and (
        consent.expires_on is None or consent.expires_on >= today
    )


def active_consent(student_id: uuid.UUID, provider_id: uuid.UUID) -> Consent | None:
    """The newest active consent for this student naming this provider, if any."""
    today = utcnow().date()
    stmt = (
        scoped(Consent)
        .where(
            Consent.student_id == student_id,
            Consent.provider_id == provider_id,
            Consent.revoked_at.is_(None),
            or_(Consent.expires_on.is_(None), Consent.expires_on >= today),
        )
        .order_by(Consent.obtained_at.desc())
        .limit(1)
    )
    return db.session.scalars(stmt).first()


def record_consent(
    student_id: uuid.UUID,
    *,
    provider_id: uuid.UUID,
    consenter: str,
    share_classes: list[str],
    method: str,
    caregiver_id: uuid.UUID | None = None,
    witness: str | None = None,
    expires_on: date | None = None,
) -> Consent:
    """Record who consented to share which classes with which provider, how, until when.

    A caregiver consent names one of the student's caregivers; a student may consent only
    where the district's policy allows. Verbal consent needs a witness.
    """
    require_permission("consent.manage")
    student = access_student(student_id, audit=False)
    errors = _check(
        student, provider_id, consenter, caregiver_id, share_classes, method, witness, expires_on
    )
    if errors:
        raise InvalidInput(fields=errors)
    consent = Consent(
        tenant_id=student.tenant_id,
        student_id=student.id,
        provider_id=provider_id,
        consenter=consenter,
        caregiver_id=caregiver_id if consenter == "caregiver" else None,
        share_classes=sorted(set(share_classes)),
        method=method,
        witness=witness or None,
        expires_on=expires_on,
        recorded_by=user_id(),
    )
    db.session.add(consent)
    db.session.flush()
    record_audit(
        "create",
        "consent",
        consent.id,
        tenant_id=student.tenant_id,
        detail={"student_id": str(student.id), "provider_id": str(provider_id)},
    )
    return consent


def _check(
    student, provider_id, consenter, caregiver_id, share_classes, method, witness, expires_on
) -> dict:
    errors = {}
    partnered = db.session.scalars(
        scoped(Partnership).where(
            Partnership.provider_id == provider_id, Partnership.active.is_(True)
        )
    ).first()
    if partnered is None:
        errors["provider_id"] = "choose a provider your district partners with"
    if consenter == "caregiver":
        caregiver = access(db.session, Caregiver, caregiver_id)
        if caregiver is None or caregiver.student_id != student.id:
            errors["caregiver_id"] = "choose one of this student's caregivers"
    elif consenter == "student":
        if not tenant_settings().student_may_consent:
            errors["consenter"] = "your district does not allow students to consent on their own"
    else:
        errors["consenter"] = "caregiver or student"
    if not share_classes or set(share_classes) - set(SHARE_CLASSES):
        errors["share_classes"] = f"choose from {', '.join(SHARE_CLASSES)}"
    if method not in METHODS:
        errors["method"] = f"one of {', '.join(METHODS)}"
    elif method == "verbal-witnessed" and not (witness or "").strip():
        errors["witness"] = "verbal consent needs the witness's name"
    if expires_on is not None and expires_on < utcnow().date():
        errors["expires_on"] = "the expiry date is in the past"
    return errors


def access_consent(consent_id) -> Consent:
    require_permission("referral.read")
    consent = access(db.session, Consent, consent_id)
    if consent is None:
        raise NotFound("No such consent")
    return consent


def revoke_consent(consent_id: uuid.UUID, *, reason: str | None = None) -> Consent:
    """Revoke a consent: sharing stops at once, and every open referral that relied on it
    moves to consent-revoked (an event and an audit row each)."""
    from baton.platform.services.referrals import transition_referral

    require_permission("consent.manage")
    consent = access_consent(consent_id)
    if consent.revoked_at is not None:
        return consent
    consent.revoked_at = utcnow()
    consent.revoked_by = user_id()
    consent.revoke_reason = (reason or "").strip()[:300] or None
    record_audit("revoke", "consent", consent.id, tenant_id=consent.tenant_id)
    affected = db.session.scalars(
        scoped(Referral).where(
            Referral.consent_id == consent.id, Referral.status.in_(lifecycle.OPEN)
        )
    ).all()
    for referral in affected:
        transition_referral(referral.id, "consent-revoked", reason="consent revoked")
    db.session.flush()
    return consent


def consent_active(referral: Referral) -> bool:
    """Whether the consent the referral was sent under is still active (not revoked or
    expired): without it nothing more is shared with the provider, nor taken from it."""
    consent = _referral_consent(referral)
    return consent is not None and is_active(consent)


def _referral_consent(referral: Referral) -> Consent | None:
    """By primary key: a consent already loaded in this session costs no query."""
    if referral.consent_id is None:
        return None
    return db.session.get(Consent, (referral.tenant_id, referral.consent_id))


def consent_allows(referral: Referral, share_class: str) -> bool:
    """Whether the referral's consent (still active) covers ``share_class``."""
    consent = _referral_consent(referral)
    return consent is not None and is_active(consent) and share_class in consent.share_classes
