"""Recording a concern and routing it to a tier (A, B, or C: the crisis pathway)."""

from __future__ import annotations

import uuid

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.models import Concern, CrisisRecord
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission, user_id
from baton.platform.services.settings import active_checklist
from baton.platform.services.students import access_student

SOURCES = (
    "teacher-observation",
    "attendance-flag",
    "behavior-incident",
    "self-referral",
    "caregiver-request",
    "screening",
)


def tier_for(questions: list[dict], answers: dict[str, bool]) -> str:
    """The highest tier any 'yes' routes to (C > B > A); A when nothing else applies."""
    routed = {q["routes_to"] for q in questions if answers.get(q["key"])}
    return next((tier for tier in ("C", "B") if tier in routed), "A")


def record_concern(
    student_id: uuid.UUID,
    *,
    source: str,
    answers: dict[str, bool],
    high_need_answers: dict[str, bool],
    summary: str | None = None,
) -> Concern:
    """Record a concern, tier it with the district's current checklist and set high-need.

    Every checklist question and high-need criterion must be answered yes or no. Tier C
    opens a crisis record instead of a referral. Raises InvalidInput with field messages.
    """
    require_permission("concern.create")
    student = access_student(student_id, audit=False)
    checklist = active_checklist()
    _check_answers(source, answers, high_need_answers, checklist)
    reasons = [c["key"] for c in checklist.high_need_criteria if high_need_answers[c["key"]]]
    concern = Concern(
        tenant_id=student.tenant_id,
        student_id=student.id,
        source=source,
        summary=(summary or "").strip()[:500] or None,
        checklist_id=checklist.id,
        checklist_version=checklist.version,
        answers=answers,
        high_need_answers=high_need_answers,
        tier=tier_for(checklist.questions, answers),
        high_need=bool(reasons),
        high_need_reasons=reasons,
        recorded_by=user_id(),
    )
    db.session.add(concern)
    db.session.flush()
    record_audit(
        "create",
        "concern",
        concern.id,
        tenant_id=student.tenant_id,
        detail={"student_id": str(student.id), "tier": concern.tier},
    )
    if concern.tier == "C":
        crisis = CrisisRecord(
            tenant_id=student.tenant_id,
            student_id=student.id,
            concern_id=concern.id,
            opened_by=user_id(),
        )
        db.session.add(crisis)
        db.session.flush()
        record_audit("create", "crisis", crisis.id, tenant_id=student.tenant_id)
    return concern


def _check_answers(source, answers, high_need_answers, checklist) -> None:
    errors = {}
    if source not in SOURCES:
        errors["source"] = f"one of {', '.join(SOURCES)}"
    for field, given, items in (
        ("answers", answers, checklist.questions),
        ("high_need_answers", high_need_answers, checklist.high_need_criteria),
    ):
        keys = {item["key"] for item in items}
        if not isinstance(given, dict) or set(given) != keys:
            errors[field] = f"answer exactly these, yes or no: {', '.join(sorted(keys))}"
        elif not all(isinstance(v, bool) for v in given.values()):
            errors[field] = "answers are true or false"
    if errors:
        raise InvalidInput(fields=errors)
