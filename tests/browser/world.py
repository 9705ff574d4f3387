"""Data the browser journeys need beyond the shared world: directory services, an overdue
high-need referral, a concern ready to refer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import Caregiver, CrisisRecord, ProviderOrg
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import clock, consent, referrals
from baton.platform.services import provisioning as prov
from baton.tenants.context import acting_as, job_scope, system_scope
from tests.factories import make_concern, principal_of


def add_services(app) -> None:
    """Provider Alpha lists two services: intake by phone, and by the portal."""
    with app.app_context(), system_scope("test: directory"):
        alpha = db.session.scalars(select(ProviderOrg).where(ProviderOrg.slug == "pa")).one()
        for name, route in (("Alpha phone intake", "phone"), ("Alpha portal intake", "portal")):
            prov.create_service(
                alpha,
                name,
                service_type="bh-assessment",
                languages=["en", "es"],
                modalities=["in-person", "on-campus"],
                insurance_accepted=["medicaid"],
                capacity=10,
                current_wait_days=4,
                intake_route=route,
            )
        db.session.commit()


def overdue_high_need_referral(app, world):
    """A high-need referral sent 8 days ago with no intake scheduled, and the clock run now:
    the sweep's escalations are open for the lead."""
    student = world.students_a[1]
    past = utcnow() - timedelta(days=8)
    navigator = principal_of_in(app, "navigator@a.test")
    with app.app_context(), travel_to(past), acting_as(navigator):
        caregiver = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student.id)
        ).first()
        consent.record_consent(
            student.id,
            provider_id=world.pa.id,
            consenter="caregiver",
            caregiver_id=caregiver,
            method="signed",
            share_classes=["referral-reason"],
        )
        concern = make_concern(student.id, high_need=True, daily_functioning=True)
        referral_id = referrals.create_referral(
            student_id=student.id, concern_id=concern.id, provider_id=world.pa.id
        ).id
        db.session.commit()
    with app.app_context(), job_scope(world.tenant_a.id, "test: clock"):
        clock.apply_due_clocks(referral_id, utcnow())
        db.session.commit()
    return referral_id


def principal_of_in(app, email):
    with app.app_context():
        return principal_of(email)


def concern_for(app, world, student):
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        concern = make_concern(student.id, daily_functioning=True)
        db.session.commit()
        return concern.id


def crisis_record_of(app, world):
    with app.app_context(), system_scope("test: crisis id"):
        return db.session.scalars(
            select(CrisisRecord.id).where(CrisisRecord.concern_id == world.crisis_concern_a)
        ).one()
