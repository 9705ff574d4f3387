"""Navigation around a referral: barriers and supports, escalations, service logging."""

from __future__ import annotations

import uuid
from datetime import date

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import Barrier, Escalation, ServiceLog
from baton.platform.models.base import utcnow
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission, user_id
from baton.platform.services.notifications import notify
from baton.platform.services.referrals import access_referral
from baton.platform.services.settings import designated_lead_id
from baton.platform.services.students import access_student
from baton.tenants.scoping import access, scoped

BARRIERS = (
    "transport",
    "caregiver-work-schedule",
    "language",
    "insurance",
    "forms",
    "mistrust",
    "other",
)
SUPPORTS = ("reminder", "transport-help", "interpreter", "reschedule-help", "forms-help", "other")
ESCALATION_KINDS = ("manual", "contact-overdue", "high-need-unscheduled")
RESOLUTIONS = ("connected", "alternative-plan")
PLACES_OF_SERVICE = {
    "03": "School",
    "02": "Telehealth (not in the home)",
    "10": "Telehealth in the home",
    "11": "Office",
    "12": "Home",
    "99": "Other",
}


def add_barrier(referral_id: uuid.UUID, *, kind: str, support: str | None = None) -> Barrier:
    require_permission("referral.manage")
    referral = access_referral(referral_id, audit=False)
    errors = {}
    if kind not in BARRIERS:
        errors["kind"] = f"one of {', '.join(BARRIERS)}"
    if support is not None and support not in SUPPORTS:
        errors["support"] = f"one of {', '.join(SUPPORTS)}"
    if errors:
        raise InvalidInput(fields=errors)
    barrier = Barrier(
        tenant_id=referral.tenant_id,
        referral_id=referral.id,
        kind=kind,
        support=support,
        recorded_by=user_id(),
    )
    db.session.add(barrier)
    db.session.flush()
    record_audit(
        "create",
        "barrier",
        barrier.id,
        tenant_id=referral.tenant_id,
        detail={"referral_id": str(referral.id)},
    )
    return barrier


def list_barriers(referral_id) -> list[Barrier]:
    referral = access_referral(referral_id, audit=False)
    return db.session.scalars(
        scoped(Barrier).where(Barrier.referral_id == referral.id).order_by(Barrier.recorded_at)
    ).all()


def open_escalation(
    referral_id: uuid.UUID, *, reason: str | None = None, kind: str = "manual"
) -> Escalation:
    """Open an escalation assigned to the district's designated lead."""
    require_permission("escalation.open")
    referral = access_referral(referral_id, audit=False)
    if kind not in ESCALATION_KINDS:
        raise InvalidInput(fields={"kind": f"one of {', '.join(ESCALATION_KINDS)}"})
    escalation = Escalation(
        id=uuid.uuid4(),  # known now: no flush needed before the audit row
        opened_at=utcnow(),
        status="open",
        actions=[],
        tenant_id=referral.tenant_id,
        referral_id=referral.id,
        kind=kind,
        reason=(reason or "").strip()[:300] or None,
        assigned_to=designated_lead_id(),
        opened_by=user_id(),
    )
    db.session.add(escalation)
    notify(
        escalation.assigned_to,
        "escalation",
        f"New escalation ({kind.replace('-', ' ')}): a referral needs your attention.",
        referral,
    )
    record_audit(
        "create",
        "escalation",
        escalation.id,
        tenant_id=referral.tenant_id,
        detail={"referral_id": str(referral.id), "kind": kind},
    )
    return escalation


def access_escalation(escalation_id) -> Escalation:
    require_permission("escalation.open", "escalation.manage")
    escalation = access(db.session, Escalation, escalation_id)
    if escalation is None:
        raise NotFound("No such escalation")
    return escalation


def close_escalation(escalation_id, *, resolution: str, note: str | None = None) -> Escalation:
    """Close an escalation once connection is confirmed or an alternative plan is recorded."""
    require_permission("escalation.manage")
    escalation = access_escalation(escalation_id)
    if escalation.status != "open":
        raise InvalidInput(fields={"status": "this escalation is already closed"})
    if resolution not in RESOLUTIONS:
        raise InvalidInput(fields={"resolution": f"one of {', '.join(RESOLUTIONS)}"})
    escalation.status = "closed"
    escalation.resolution = resolution
    escalation.closed_at = utcnow()
    escalation.closed_by = user_id()
    escalation.actions = [
        *escalation.actions,
        {
            "at": utcnow().isoformat(),
            "action": f"closed: {resolution}",
            "by": str(user_id()),
            "note": (note or "")[:300],
        },
    ]
    record_audit("close", "escalation", escalation.id, tenant_id=escalation.tenant_id)
    db.session.flush()
    return escalation


def list_escalations(status: str | None = "open", *, referral_id=None) -> list[Escalation]:
    require_permission("escalation.open", "escalation.manage")
    stmt = scoped(Escalation)
    if status:
        stmt = stmt.where(Escalation.status == status)
    if referral_id is not None:
        stmt = stmt.where(Escalation.referral_id == referral_id)
    return db.session.scalars(stmt.order_by(Escalation.opened_at)).all()


def log_service(
    student_id: uuid.UUID,
    *,
    service_date: date,
    minutes: int,
    units: int,
    practitioner: str,
    place_of_service: str,
    plan_ref: str,
    referral_id: uuid.UUID | None = None,
) -> ServiceLog:
    """Document a delivered service for Medicaid: date, time, practitioner, place, plan."""
    require_permission("service.log")
    student = access_student(student_id, audit=False)
    errors = {}
    if service_date is None or service_date > utcnow().date():
        errors["service_date"] = "a date that is not in the future"
    if not isinstance(minutes, int) or not 1 <= minutes <= 480:
        errors["minutes"] = "between 1 and 480"
    if not isinstance(units, int) or not 1 <= units <= 32:
        errors["units"] = "between 1 and 32"
    if not (practitioner or "").strip():
        errors["practitioner"] = "required"
    if place_of_service not in PLACES_OF_SERVICE:
        errors["place_of_service"] = f"a place-of-service code: {', '.join(PLACES_OF_SERVICE)}"
    if not (plan_ref or "").strip():
        errors["plan_ref"] = "the plan this service belongs to"
    if referral_id is not None:
        referral = access_referral(referral_id, audit=False)
        if referral.student_id != student.id:
            errors["referral_id"] = "a referral of this student"
    if errors:
        raise InvalidInput(fields=errors)
    row = ServiceLog(
        tenant_id=student.tenant_id,
        student_id=student.id,
        referral_id=referral_id,
        service_date=service_date,
        minutes=minutes,
        units=units,
        practitioner=practitioner.strip()[:200],
        place_of_service=place_of_service,
        plan_ref=plan_ref.strip()[:100],
        recorded_by=user_id(),
    )
    db.session.add(row)
    db.session.flush()
    record_audit("create", "service-log", row.id, tenant_id=student.tenant_id)
    return row
