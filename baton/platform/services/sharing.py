"""Minimum necessary: what a referral's provider may see of the student, under consent.

A provider never reads students or caregivers directly (scoping shows it none). What it may
see comes from here, for referrals it can already see: the student's identity always while
a consent naming it is active; caregivers and their safe-contact preferences only with
``contact-details``; a line of school context only with ``school-context``. District staff
see their own students whole. Used by the FHIR gateway (Patient, ServiceRequest.orderDetail).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from baton.platform.errors import ConsentRequired, NotFound
from baton.platform.extensions import db
from baton.platform.models import (
    Caregiver,
    Consent,
    Partnership,
    ProviderOrg,
    Referral,
    School,
    Student,
    Tenant,
)
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.platform.services.consent import is_active
from baton.tenants.context import require_principal, system_scope
from baton.tenants.scoping import access, scoped

EVERYTHING = frozenset({"referral-reason", "contact-details", "school-context", "status-feedback"})


@dataclass
class SharedCaregiver:
    id: uuid.UUID
    name: str
    relationship: str
    phone: str | None
    email: str | None
    language: str
    allowed_channels: list[str]
    safe_times: str | None
    do_not_call: bool
    no_voicemail: bool


@dataclass
class SharedStudent:
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    local_id: str
    first_name: str
    last_name: str
    birth_date: date
    language: str
    share: frozenset[str]
    caregivers: list[SharedCaregiver] = field(default_factory=list)
    school_context: str | None = None


def share_classes(referrals: list[Referral]) -> dict[uuid.UUID, frozenset[str]]:
    """The classes each referral's consent lets the caller share, if the caller is its
    provider: empty when the consent was revoked or expired. District staff: everything."""
    if require_principal().kind != "provider":
        return {r.id: EVERYTHING for r in referrals}
    ids = {r.consent_id for r in referrals if r.consent_id}
    loaded = db.session.scalars(scoped(Consent).where(Consent.id.in_(ids))).all()
    # Held for the session: its identity map is weak, and the consent checks of a move that
    # follows in the same request then find them there instead of asking again.
    db.session.info.setdefault("baton.held", []).extend(loaded)
    consents = {c.id: c for c in loaded if is_active(c)}
    return {
        r.id: frozenset(consents[r.consent_id].share_classes)
        if r.consent_id in consents
        else frozenset()
        for r in referrals
    }


def shared_students(
    referrals: list[Referral], shares: dict[uuid.UUID, frozenset[str]] | None = None
) -> dict[uuid.UUID, SharedStudent]:
    """The students of ``referrals`` (which the caller can see), cut to what the referral's
    consent allows; a student whose referrals have no active consent is left out.
    ``shares``: ``share_classes(referrals)``, when the caller has it already."""
    shares = shares if shares is not None else share_classes(referrals)
    wanted: dict[tuple[uuid.UUID, uuid.UUID], frozenset[str]] = {}
    for r in referrals:
        if shares[r.id]:
            key = (r.tenant_id, r.student_id)
            wanted[key] = wanted.get(key, frozenset()) | shares[r.id]
    return _load(wanted)


def _load(wanted: dict[tuple[uuid.UUID, uuid.UUID], frozenset[str]]) -> dict:
    """The wanted students, in four queries however many there are."""
    if not wanted:
        return {}
    tenant_ids = {tenant_id for tenant_id, _ in wanted}
    student_ids = [student_id for _, student_id in wanted]
    with system_scope("minimum-necessary view of addressed referrals' students"):
        students = db.session.scalars(
            select(Student).where(Student.tenant_id.in_(tenant_ids), Student.id.in_(student_ids))
        ).all()
        slugs = dict(
            db.session.execute(
                select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids))
            ).all()
        )
        caregivers = _caregivers_of(students, wanted)
        schools = _schools_of(students, wanted)
    return {
        s.id: _shared(s, wanted[(s.tenant_id, s.id)], slugs, caregivers, schools) for s in students
    }


def _caregivers_of(students, wanted) -> dict[uuid.UUID, list[Caregiver]]:
    ids = [s.id for s in students if "contact-details" in wanted[(s.tenant_id, s.id)]]
    found: dict[uuid.UUID, list[Caregiver]] = {}
    if ids:
        rows = db.session.scalars(
            select(Caregiver)
            .where(
                Caregiver.tenant_id.in_({s.tenant_id for s in students}),
                Caregiver.student_id.in_(ids),
            )
            .order_by(Caregiver.created_at)
        )
        for row in rows:
            found.setdefault(row.student_id, []).append(row)
    return found


def _schools_of(students, wanted) -> dict[tuple, str]:
    keys = {
        (s.tenant_id, s.school_id)
        for s in students
        if "school-context" in wanted[(s.tenant_id, s.id)]
    }
    if not keys:
        return {}
    rows = db.session.execute(
        select(School.tenant_id, School.id, School.name).where(
            School.tenant_id.in_({k[0] for k in keys}), School.id.in_({k[1] for k in keys})
        )
    ).all()
    return {(tenant_id, school_id): name for tenant_id, school_id, name in rows}


def _shared(student: Student, share: frozenset[str], slugs, caregivers, schools) -> SharedStudent:
    shared = SharedStudent(
        id=student.id,
        tenant_id=student.tenant_id,
        tenant_slug=slugs[student.tenant_id],
        local_id=student.local_id,
        first_name=student.first_name,
        last_name=student.last_name,
        birth_date=student.birth_date,
        language=student.preferred_language,
        share=share,
    )
    if "contact-details" in share:
        shared.caregivers = [_caregiver(c) for c in caregivers.get(student.id, [])]
    school = schools.get((student.tenant_id, student.school_id))
    if "school-context" in share and school:
        shared.school_context = f"Grade {student.grade} at {school}"
    return shared


def _caregiver(c: Caregiver) -> SharedCaregiver:
    return SharedCaregiver(
        id=c.id,
        name=c.name,
        relationship=c.relationship_to_student,
        phone=c.phone,
        email=c.email,
        language=c.preferred_language,
        allowed_channels=list(c.allowed_channels or []),
        safe_times=c.safe_times,
        do_not_call=c.do_not_call,
        no_voicemail=c.no_voicemail,
    )


def access_shared_student(student_id) -> SharedStudent:
    """A student as the caller may see them, audited. NotFound when no referral the caller
    sees concerns them; ConsentRequired when one does but no consent naming its provider is
    active any more (revoked or expired)."""
    require_permission("student.read", "provider.referrals")
    try:
        student_id = uuid.UUID(str(student_id))
    except ValueError as exc:
        raise NotFound("No such patient") from exc
    if require_principal().kind == "provider":
        referrals = db.session.scalars(
            scoped(Referral).where(Referral.student_id == student_id)
        ).all()
        if not referrals:
            raise NotFound("No such patient")
        shared = shared_students(referrals).get(student_id)
    else:
        student = access(db.session, Student, student_id)
        if student is None:
            raise NotFound("No such patient")
        shared = _load({(student.tenant_id, student.id): EVERYTHING}).get(student_id)
    if shared is None:
        raise ConsentRequired("No active consent lets this provider see the student.")
    record_audit("read", "student", student_id, tenant_id=shared.tenant_id)
    return shared


def visible_organization(org_id) -> Tenant | ProviderOrg:
    """A district or provider the caller may know of: its own organisation, the providers
    its district partners with, the districts a provider partners with. NotFound otherwise."""
    principal = require_principal()
    try:
        org_id = uuid.UUID(str(org_id))
    except ValueError as exc:
        raise NotFound("No such organization") from exc
    if principal.kind == "provider":
        if org_id == principal.provider_id:
            return db.session.get(ProviderOrg, org_id)
        if org_id in principal.partner_tenant_ids:
            return db.session.get(Tenant, org_id)
    elif principal.kind == "district":
        if org_id == principal.tenant_id:
            return db.session.get(Tenant, org_id)
        partnered = db.session.scalars(
            scoped(Partnership).where(Partnership.provider_id == org_id)
        ).first()
        if partnered is not None:
            return db.session.get(ProviderOrg, org_id)
    raise NotFound("No such organization")
