"""What provider intake staff see of a referral addressed to them: only the consented fields.

The patient's name, date of birth and language travel with any active consent (as the FHIR
Patient does); caregiver contacts only with ``contact-details``, the reason only with
``referral-reason`` (it is not even kept otherwise), school context only with
``school-context``. Nothing of the student is shown once consent is revoked or expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import Caregiver, Consent, Referral, School, Student, Tenant
from baton.platform.services.consent import is_active
from baton.platform.services.referrals import (
    ReferralFilters,
    access_referral,
    list_referrals,
    referral_events,
)
from baton.tenants.context import require_principal, system_scope


@dataclass
class ProviderReferral:
    referral: Referral
    district: str
    consent_active: bool
    shared: list[str] = field(default_factory=list)
    student_name: str | None = None
    birth_date: date | None = None
    language: str | None = None
    school: str | None = None
    grade: str | None = None
    contacts: list[dict] = field(default_factory=list)
    events: list = field(default_factory=list)

    @property
    def priority(self) -> str:
        return "urgent" if self.referral.high_need or self.referral.tier == "B" else "routine"


def provider_referral(referral_id, *, with_events: bool = True) -> ProviderReferral:
    """One addressed referral as its provider may see it (audited as a read)."""
    referral = access_referral(referral_id)
    view = _view(referral)
    if with_events:
        view.events = referral_events(referral.id)
    return view


def provider_inbox(status: str | None = None, limit: int = 100) -> list[ProviderReferral]:
    """Referrals addressed to the caller's organisation, newest first (consented fields)."""
    rows = list_referrals(ReferralFilters(status=status or None), limit=limit)
    return [_view(r) for r in rows]


def _view(referral: Referral) -> ProviderReferral:
    principal = require_principal()
    with system_scope(
        f"provider portal: consented fields of an addressed referral ({principal.provider_id})",
        surface=principal.surface,
    ):
        consent = (
            db.session.get(Consent, (referral.tenant_id, referral.consent_id))
            if referral.consent_id
            else None
        )
        district = db.session.get(Tenant, referral.tenant_id)
        view = ProviderReferral(referral, district.name, bool(consent and is_active(consent)))
        if view.consent_active:
            view.shared = list(consent.share_classes)
            _fill_patient(view, referral)
    return view


def _fill_patient(view: ProviderReferral, referral: Referral) -> None:
    student = db.session.get(Student, (referral.tenant_id, referral.student_id))
    view.student_name = student.full_name
    view.birth_date = student.birth_date
    view.language = student.preferred_language
    if "school-context" in view.shared:
        school = db.session.get(School, (student.tenant_id, student.school_id))
        view.school, view.grade = school.name, student.grade
    if "contact-details" in view.shared:
        caregivers = db.session.scalars(
            select(Caregiver)
            .where(Caregiver.tenant_id == student.tenant_id, Caregiver.student_id == student.id)
            .order_by(Caregiver.created_at)
        ).all()
        view.contacts = [_contact(c) for c in caregivers]


def _contact(c: Caregiver) -> dict:
    return {
        "id": c.id,
        "name": c.name,
        "relationship": c.relationship_to_student,
        "phone": None if c.do_not_call else c.phone,
        "email": c.email if "email" in (c.allowed_channels or []) else None,
        "channels": c.allowed_channels or [],
        "safe_times": c.safe_times,
        "do_not_call": c.do_not_call,
        "no_voicemail": c.no_voicemail,
        "language": c.preferred_language,
    }
