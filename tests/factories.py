"""Builders for test data, through the same provisioning services the CLI uses."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from baton.platform.extensions import db
from baton.platform.models import Caregiver, Student
from baton.platform.permissions import ROLES
from baton.platform.services import provisioning as prov
from baton.tenants.context import system_scope
from tests.conftest import PASSWORD

DISTRICT_ROLES = [role for role, kind in ROLES.items() if kind == "district"]


def make_student(tenant, school, first: str, last: str, local_id: str, **kw) -> Student:
    student = Student(
        tenant_id=tenant.id,
        school_id=school.id,
        first_name=first,
        last_name=last,
        local_id=local_id,
        birth_date=kw.pop("birth_date", date(2012, 3, 4)),
        grade=kw.pop("grade", "8"),
        **kw,
    )
    db.session.add(student)
    db.session.flush()
    db.session.add(
        Caregiver(
            tenant_id=tenant.id,
            student_id=student.id,
            name=f"Caregiver-of-{first}",
            phone="+1-555-0101",
            allowed_channels=["phone", "sms"],
        )
    )
    db.session.flush()
    return student


def build_world() -> SimpleNamespace:
    """District A and B, each with a school, two students (distinctive names), staff in every
    district role, a provider partnered with each (pa with A, pb with B), a commissioner."""
    w = SimpleNamespace()
    with system_scope("test fixtures"):
        w.county, _ = prov.create_county("Test County", "test-county")
        w.pa, _ = prov.create_provider("Provider Alpha", "pa")
        w.pb, _ = prov.create_provider("Provider Beta", "pb")
        for key, provider in (("a", w.pa), ("b", w.pb)):
            tenant, _ = prov.create_tenant(
                f"District {key.upper()}", f"district-{key}", "test-county"
            )
            school, _ = prov.create_school(
                tenant, f"School-{key.upper()}-Marker", f"S{key.upper()}"
            )
            prov.create_partnership(tenant, provider, start=date(2025, 8, 1))
            students = [
                make_student(
                    tenant,
                    school,
                    f"Stu{key.upper()}{n}",
                    f"Only{key.upper()}Family{n}",
                    f"{key.upper()}-LOCAL-{n}",
                )
                for n in range(2)
            ]
            for role in DISTRICT_ROLES:
                prov.create_user(
                    f"{role}@{key}.test", f"{role} {key}", PASSWORD, role, tenant=tenant
                )
            setattr(w, f"tenant_{key}", snapshot(tenant, "id", "slug", "name"))
            setattr(w, f"school_{key}", snapshot(school, "id", "name", "code"))
            setattr(
                w,
                f"students_{key}",
                [
                    snapshot(s, "id", "tenant_id", "first_name", "last_name", "local_id")
                    for s in students
                ],
            )
        # Intake staff first: a referral to a portal provider notifies them when it is sent.
        prov.create_user("intake@pa.test", "Intake A", PASSWORD, "provider_intake", provider=w.pa)
        prov.create_user("intake@pb.test", "Intake B", PASSWORD, "provider_intake", provider=w.pb)
        for key in ("a", "b"):
            _referral_world(w, key)
            _audit_world(w, key)
        prov.create_user(
            "provider_admin@pa.test", "Provider admin A", PASSWORD, "provider_admin", provider=w.pa
        )
        prov.create_user(
            "commissioner@test.test", "Commissioner", PASSWORD, "commissioner", county=w.county
        )
        w.county, w.pa, w.pb = (snapshot(o, "id", "slug", "name") for o in (w.county, w.pa, w.pb))
        db.session.commit()
    return w


def snapshot(obj, *fields) -> SimpleNamespace:
    """Plain values of a row, usable after its session is gone (and outside any scope)."""
    return SimpleNamespace(**{f: getattr(obj, f) for f in fields})


def markers(w, key: str) -> list[str]:
    """Strings that only district ``key``'s student-level data would put on a page."""
    students = getattr(w, f"students_{key}")
    return (
        [s.last_name for s in students]
        + [s.local_id for s in students]
        + [f"Caregiver-of-{s.first_name}" for s in students]
    )


def _referral_world(w, key: str) -> None:
    """For each district: a tier-B concern, consent and a sent referral to its partner
    provider, and an open escalation — one row of every referral-loop model."""
    from sqlalchemy import select

    from baton.platform.models import FhirMessage, Membership, User
    from baton.platform.services import consent, navigation, referrals
    from baton.platform.services.auth import principal_for
    from baton.tenants.context import acting_as

    membership = db.session.scalars(
        select(Membership).join(User).where(User.email == f"escalation_lead@{key}.test")
    ).one()
    student = getattr(w, f"students_{key}")[0]
    provider = w.pa if key == "a" else w.pb
    with acting_as(principal_for(membership)):
        concern = make_concern(student.id, daily_functioning=True)
        caregiver_id = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student.id)
        ).first()
        record = consent.record_consent(
            student.id,
            provider_id=provider.id,
            consenter="caregiver",
            caregiver_id=caregiver_id,
            method="signed",
            share_classes=["referral-reason", "contact-details", "status-feedback"],
        )
        referral = referrals.create_referral(
            student_id=student.id,
            concern_id=concern.id,
            provider_id=provider.id,
            caregiver_present=True,
        )
        navigation.open_escalation(referral.id, reason="fixture")
        db.session.add(  # one FHIR outbox row (already delivered) for the isolation walks
            FhirMessage(
                tenant_id=referral.tenant_id,
                referral_id=referral.id,
                provider_id=provider.id,
                kind="task-update",
                status="delivered",
                event_seq=referral.event_count,
            )
        )
        crisis_concern = make_concern(student.id, immediate_risk=True)
        setattr(w, f"referral_{key}", snapshot(referral, "id", "tenant_id", "student_id"))
        setattr(w, f"consent_{key}", snapshot(record, "id"))
        setattr(w, f"caregiver_{key}", caregiver_id)
        setattr(w, f"crisis_concern_{key}", crisis_concern.id)


def _audit_world(w, key: str) -> None:
    """An audit sample of the current quarter (its referral and its crisis record)."""
    from baton.platform.models.base import utcnow
    from baton.platform.services import audit_samples
    from baton.tenants.context import acting_as

    with acting_as(principal_of(f"auditor@{key}.test")):
        quarter = audit_samples.current_quarter(utcnow().date())
        sample = audit_samples.draw_sample(quarter, size=10, seed=7)
        setattr(w, f"audit_sample_{key}", snapshot(sample, "id"))


def make_concern(student_id, *, high_need: bool = False, **yes):
    """A concern answered 'no' everywhere except the questions named in ``yes``."""
    from baton.platform.services import settings, triage

    checklist = settings.active_checklist()
    answers = {q["key"]: bool(yes.get(q["key"])) for q in checklist.questions}
    high = {c["key"]: False for c in checklist.high_need_criteria}
    if high_need:
        high["safety_concern"] = True
    return triage.record_concern(
        student_id, source="screening", answers=answers, high_need_answers=high
    )


def principal_of(email: str, surface: str = "ui"):
    """The principal a test user acts as (inside an app context)."""
    from sqlalchemy import select

    from baton.platform.models import Membership, User
    from baton.platform.services.auth import principal_for

    with system_scope("test: resolve a user's principal"):
        membership = db.session.scalars(
            select(Membership).join(User).where(User.email == email)
        ).one()
        return principal_for(membership, surface=surface)
