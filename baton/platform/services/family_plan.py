"""The family plan: what the family leaves the warm handoff with, in their language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baton.platform.extensions import db
from baton.platform.models import Caregiver, ProviderOrg, Student
from baton.platform.services.audit import record_audit
from baton.platform.services.referrals import access_referral
from baton.tenants.scoping import access, scoped

SUPPORTED_LANGUAGES = ("en", "es")


@dataclass
class FamilyPlan:
    language: str
    student_first_name: str
    provider_name: str
    appointment_at: datetime | None
    place: str | None
    link: str | None
    what_to_bring: str | None
    who_to_call: str | None


def family_plan(referral_id) -> FamilyPlan:
    """The plan for a referral, in the primary caregiver's (else the student's) language
    when we have it translated, English otherwise."""
    referral = access_referral(referral_id, audit=False)
    student = access(db.session, Student, referral.student_id)
    caregiver = db.session.scalars(
        scoped(Caregiver).where(Caregiver.student_id == student.id).order_by(Caregiver.created_at)
    ).first()
    wanted = (caregiver.preferred_language if caregiver else student.preferred_language) or "en"
    provider = db.session.get(ProviderOrg, referral.provider_id)
    record_audit("read", "family-plan", referral.id, tenant_id=referral.tenant_id)
    return FamilyPlan(
        language=wanted if wanted in SUPPORTED_LANGUAGES else "en",
        student_first_name=student.first_name,
        provider_name=provider.name,
        appointment_at=referral.appointment_at,
        place=referral.appointment_place,
        link=referral.appointment_link,
        what_to_bring=referral.what_to_bring,
        who_to_call=referral.family_contact or provider.phone,
    )
