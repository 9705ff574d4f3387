"""A referral to a FHIR-route provider and its outbox row moved through the outbox services
the delivery job uses (pending, retrying, failed, skipped, delivered), plus a refused remote
change as the mirror records it: the states the referral and admin pages show."""

from __future__ import annotations

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import Caregiver, FhirMessage, ProviderOrg
from baton.platform.models.base import utcnow
from baton.platform.services import outbox
from baton.tenants.context import acting_as, job_scope, system_scope
from tests.factories import make_concern, principal_of

EHR = "https://ehr.alpha.example/fhir"


def fhir_route_referral(app, world):
    """District A's second student referred to provider pa through its EHR (push route):
    one push message, pending, written with the referral."""
    from baton.platform.services import consent, endpoints, referrals
    from baton.platform.services import provisioning as prov

    with app.app_context(), system_scope("test: a FHIR-route service"):
        provider = db.session.get(ProviderOrg, world.pa.id)
        service, _ = prov.create_service(
            provider, "Alpha EHR intake", service_type="bh-counseling", intake_route="portal"
        )
        endpoints.set_fhir_endpoint(provider, EHR, "baton-at-alpha", route_services=True)
        service_id = service.id
        db.session.commit()
    student = world.students_a[1]
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        caregiver = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student.id)
        ).first()
        consent.record_consent(
            student.id,
            provider_id=world.pa.id,
            consenter="caregiver",
            caregiver_id=caregiver,
            method="signed",
            share_classes=["referral-reason", "status-feedback"],
        )
        referral = referrals.create_referral(
            student_id=student.id,
            concern_id=make_concern(student.id, daily_functioning=True).id,
            provider_id=world.pa.id,
            service_id=service_id,
        )
        assert referral.intake_route == "fhir"
        db.session.commit()
        return referral.id


def move_message(app, world, referral_id, change=None):
    """The referral's push message, changed by ``change(row)`` in the district's job scope."""
    with app.app_context(), job_scope(world.tenant_a.id, "test: move the outbox row"):
        row = db.session.scalars(
            select(FhirMessage).where(FhirMessage.referral_id == referral_id)
        ).one()
        if change:
            change(row)
        db.session.commit()
        return row.id


def deliver(app, world, referral_id):
    """What a first push leaves behind: the message delivered, the link to the remote Task."""
    from baton.platform.models import FhirEndpoint, PushedTask

    def delivered(row):
        outbox.mark_delivered(row, utcnow())
        endpoint = db.session.scalars(
            select(FhirEndpoint).where(FhirEndpoint.base_url == EHR)
        ).one()
        db.session.add(
            PushedTask(
                tenant_id=row.tenant_id,
                referral_id=referral_id,
                endpoint_id=endpoint.id,
                task_id="T-9",
                version_id="3",
                requester="Organization/D-1",
            )
        )

    move_message(app, world, referral_id, delivered)


def quarantine(app, world, referral_id):
    """A refused remote change, as the mirror records it."""
    from baton.platform.models import FhirEndpoint, QuarantinedChange

    with app.app_context(), job_scope(world.tenant_a.id, "test: quarantine a change"):
        endpoint = db.session.scalars(
            select(FhirEndpoint).where(FhirEndpoint.base_url == EHR)
        ).one()
        db.session.add(
            QuarantinedChange(
                tenant_id=world.tenant_a.id,
                referral_id=referral_id,
                endpoint_id=endpoint.id,
                remote_version="4",
                task_status="completed",
                business_status="closed-completed",
                reason="transition-refused: requested cannot move to completed",
            )
        )
        db.session.commit()


def fail(app, world, referral_id, error: str = "EHR refused: 400") -> object:
    """The receiver refused the push for good: the message is a dead letter at once."""
    now = utcnow()
    return move_message(
        app, world, referral_id, lambda row: outbox.record_failure(row, error, now, permanent=True)
    )
