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
from baton.platform.models import Referral, Tenant
from baton.platform.services.referrals import (
    ReferralFilters,
    access_referral,
    list_referrals,
    referral_events,
)
from baton.platform.services.sharing import SharedCaregiver, share_classes, shared_students
from baton.tenants.context import system_scope


@dataclass
class ProviderReferral:
    referral: Referral
    district: str
    timezone: str  # the district's: its staff and the family read times in it
    consent_active: bool
    shared: list[str] = field(default_factory=list)
    student_name: str | None = None
    birth_date: date | None = None
    language: str | None = None
    school: str | None = None
    contacts: list[dict] = field(default_factory=list)
    events: list = field(default_factory=list)


def provider_referral(referral_id, *, with_events: bool = True) -> ProviderReferral:
    """One addressed referral as its provider may see it (audited as a read)."""
    referral = access_referral(referral_id)
    (view,) = _views([referral])
    if with_events:
        view.events = referral_events(referral.id)
    return view


def provider_inbox(status: str | None = None, limit: int = 100) -> list[ProviderReferral]:
    """Referrals addressed to the caller's organisation, newest first (consented fields)."""
    return _views(list_referrals(ReferralFilters(status=status or None), limit=limit))


def _views(referrals: list[Referral]) -> list[ProviderReferral]:
    """The consented view of each referral, in a fixed number of queries for the page."""
    shares = share_classes(referrals)
    students = shared_students(referrals, shares)
    tenant_ids = {r.tenant_id for r in referrals}
    with system_scope("provider portal: names of the districts that sent the referrals"):
        rows = db.session.execute(
            select(Tenant.id, Tenant.name, Tenant.timezone).where(Tenant.id.in_(tenant_ids))
        )
        districts = {tenant_id: (name, zone) for tenant_id, name, zone in rows}
    views = []
    for r in referrals:
        view = ProviderReferral(r, *districts[r.tenant_id], bool(shares[r.id]))
        student = students.get(r.student_id) if view.consent_active else None
        if student is not None:
            view.shared = sorted(shares[r.id])
            view.student_name = f"{student.first_name} {student.last_name}"
            view.birth_date, view.language = student.birth_date, student.language
            view.school = student.school_context if "school-context" in shares[r.id] else None
            if "contact-details" in shares[r.id]:
                view.contacts = [_contact(c) for c in student.caregivers]
        views.append(view)
    return views


def _contact(c: SharedCaregiver) -> dict:
    """What intake staff may use: no phone under "do not call", e-mail only when allowed."""
    return {
        "id": c.id,
        "name": c.name,
        "relationship": c.relationship,
        "phone": None if c.do_not_call else c.phone,
        "email": c.email if "email" in c.allowed_channels else None,
        "channels": c.allowed_channels,
        "safe_times": c.safe_times,
        "do_not_call": c.do_not_call,
        "no_voicemail": c.no_voicemail,
        "language": c.language,
    }
