"""The crisis pathway (tier C): Baton documents and times the steps; people decide."""

from __future__ import annotations

import uuid

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import CrisisRecord, Student
from baton.platform.models.base import utcnow
from baton.platform.services.audit import record_audit, record_list_read
from baton.platform.services.common import require_permission, user_id
from baton.tenants.scoping import access, scoped

ACTIONS = (
    "stayed-with-student",
    "called-988",
    "called-mobile-crisis",
    "called-emergency",
    "crisis-stabilization",
    "caregiver-notified",
    "documented",
    "other",
)
ROLES = ("stays-with-student", "calls-caregiver", "documents", "escalation-lead", "other")


def access_crisis(crisis_id) -> CrisisRecord:
    require_permission("escalation.open")
    crisis = access(db.session, CrisisRecord, crisis_id)
    if crisis is None:
        raise NotFound("No such crisis record")
    return crisis


def list_open_crises() -> list[CrisisRecord]:
    """The open crisis records, oldest first; the list is a read of each (audited)."""
    require_permission("escalation.open")
    rows = db.session.scalars(
        scoped(CrisisRecord)
        .where(CrisisRecord.closed_at.is_(None))
        .order_by(CrisisRecord.opened_at)
    ).all()
    record_list_read("crisis_record", rows)
    return rows


def student_names(records: list[CrisisRecord]) -> dict[uuid.UUID, str]:
    """The names of the records' students, for the list page (one query)."""
    ids = {r.student_id for r in records}
    if not ids:
        return {}
    students = db.session.scalars(scoped(Student).where(Student.id.in_(ids)))
    return {s.id: s.full_name for s in students}


def add_crisis_step(
    crisis_id: uuid.UUID, *, action: str, role: str, note: str | None = None
) -> CrisisRecord:
    """Timestamp one step of the escalation tree and who (in which role) took it."""
    crisis = access_crisis(crisis_id)
    errors = {}
    if crisis.closed_at is not None:
        errors["crisis"] = "this crisis record is closed"
    if action not in ACTIONS:
        errors["action"] = f"one of {', '.join(ACTIONS)}"
    if role not in ROLES:
        errors["role"] = f"one of {', '.join(ROLES)}"
    if errors:
        raise InvalidInput(fields=errors)
    now = utcnow()
    step = {
        "at": now.isoformat(),
        "action": action,
        "role": role,
        "by": str(user_id()),
        "note": (note or "").strip()[:300],
    }
    crisis.steps = [*crisis.steps, step]
    if action == "caregiver-notified" and crisis.caregiver_notified_at is None:
        crisis.caregiver_notified_at = now
    record_audit(
        "update", "crisis", crisis.id, tenant_id=crisis.tenant_id, detail={"action": action}
    )
    db.session.flush()
    return crisis


def close_crisis(crisis_id: uuid.UUID, *, return_to_school_plan: str) -> CrisisRecord:
    """Close with a return-to-school plan; the caregiver must have been notified first."""
    crisis = access_crisis(crisis_id)
    errors = {}
    if crisis.closed_at is not None:
        errors["crisis"] = "this crisis record is already closed"
    if crisis.caregiver_notified_at is None:
        errors["caregiver_notified_at"] = "record the caregiver notification before closing"
    if not (return_to_school_plan or "").strip():
        errors["return_to_school_plan"] = "required"
    if errors:
        raise InvalidInput(fields=errors)
    crisis.return_to_school_plan = return_to_school_plan.strip()[:1000]
    crisis.closed_at = utcnow()
    record_audit("close", "crisis", crisis.id, tenant_id=crisis.tenant_id)
    db.session.flush()
    return crisis
