"""Referral -> Task and ServiceRequest (fhir-profile.md §2-§4), as plain FHIR JSON.

Every element is a function of a ``TaskState`` (the referral as of one of its status events)
and a ``Shared`` view of what consent lets the caller see, so the current resource and every
historical version come out of the same code. Inbound Task changes are parsed in
``task_update``; Patient, Consent, Organization in ``parties``; Communication in
``communication``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from baton.fhir_gateway import codes
from baton.platform import lifecycle
from baton.platform.models import Referral
from baton.platform.models.base import as_utc
from baton.platform.services.sharing import SharedStudent

SR_STATUS = {
    "draft": "draft",
    "entered-in-error": "entered-in-error",
    "withdrawn": "revoked",
    "consent-revoked": "revoked",
    "closed-alternative-plan": "completed",
    "closed-completed": "completed",
    "closed-family-declined": "completed",
    "closed-unable-to-reach": "completed",
}  # every other status: active (a declined or redirected referral's request stays active)
# A reason coded in one of our systems; any other reason is carried as text.
REASON_SYSTEM = {"declined": "decline-reason", "bounced": "bounce-reason"}


@dataclass
class TaskState:
    """A referral as of one status event (the current state is the last event's)."""

    referral: Referral
    version: int
    status: str
    last_modified: datetime
    reason: str | None = None
    status_before_bounce: str | None = None
    appointment_at: datetime | None = None
    redirected_to: str | None = None
    provider_ref: dict | None = None
    started: datetime | None = None
    ended: datetime | None = None


@dataclass
class Shared:
    """What the caller may see for one referral: its consent's share classes, the student."""

    share: frozenset[str] = frozenset()
    student: SharedStudent | None = None
    names: dict[uuid.UUID, str] = field(default_factory=dict)  # districts' and providers'
    service_type: str | None = None  # of the provider's service the referral names


def instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ref(resource_type: str, resource_id, display: str | None = None) -> dict:
    body = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        body["display"] = display
    return body


def referral_identifier() -> dict:
    return {
        "use": "official",
        "type": {"coding": [{"system": codes.V2_0203, "code": "PLAC", "display": "Placer"}]},
        "system": codes.identifier_system("referral"),
    }


def task_status(status: str, before_bounce: str | None) -> str:
    """Task.status of a Baton status: a bounce leaves the Task's status as it was."""
    if status == "bounced":
        return lifecycle.TASK_STATUS.get(before_bounce or "sent") or "requested"
    return lifecycle.TASK_STATUS[status]


def meta(state: TaskState, profile: str) -> dict:
    return {
        "versionId": str(state.version),
        "lastUpdated": instant(state.last_modified),
        "profile": [profile],
    }


def task(state: TaskState, shared: Shared) -> dict:
    """The Task of ``state`` (SDOHCC Task for Referral Management)."""
    r = state.referral
    body = {
        "resourceType": "Task",
        "id": str(r.id),
        "meta": meta(state, codes.TASK_PROFILE),
        "identifier": _task_identifiers(state),
        "status": task_status(state.status, state.status_before_bounce),
        "intent": "order",
        "priority": r.priority,
        "code": {
            "coding": [
                {
                    "system": codes.TASK_CODE,
                    "code": "fulfill",
                    "display": "Fulfill the focal request",
                }
            ]
        },
        "focus": ref("ServiceRequest", r.id),
        "for": ref("Patient", r.student_id),
        "authoredOn": instant(r.sent_at or r.created_at),
        "lastModified": instant(state.last_modified),
        "requester": ref("Organization", r.tenant_id, shared.names.get(r.tenant_id)),
        "owner": ref("Organization", r.provider_id, shared.names.get(r.provider_id)),
        "input": _inputs(shared),
    }
    for key, value in (
        ("businessStatus", _business_status(state)),
        ("statusReason", _status_reason(state)),
        ("executionPeriod", _period(state.started, state.ended)),
        ("output", _outputs(state)),
    ):
        if value:
            body[key] = value
    return body


def _task_identifiers(state: TaskState) -> list[dict]:
    identifiers = [{**referral_identifier(), "value": str(state.referral.id)}]
    if state.provider_ref:
        identifiers.append(
            {
                "use": "secondary",
                "type": {
                    "coding": [{"system": codes.V2_0203, "code": "FILL", "display": "Filler"}]
                },
                **state.provider_ref,
            }
        )
    return identifiers


def _business_status(state: TaskState) -> dict | None:
    if state.status not in codes.DEFINED["referral-business-status"]:
        return None
    return codes.concept("referral-business-status", state.status)


def _status_reason(state: TaskState) -> dict | None:
    if not state.reason:
        return None
    system = REASON_SYSTEM.get(state.status)
    if system and state.reason in codes.DEFINED[system]:
        return codes.concept(system, state.reason, state.reason.replace("-", " "))
    return {"text": state.reason}


def _period(start: datetime | None, end: datetime | None) -> dict | None:
    period = {k: instant(v) for k, v in (("start", start), ("end", end)) if v}
    return period or None


def _inputs(shared: Shared) -> list[dict]:
    inputs = [
        {
            "type": codes.concept("task-input-type", "status-feedback-permitted"),
            "valueBoolean": "status-feedback" in shared.share,
        }
    ]
    if shared.student and shared.student.school_context:
        inputs.append(
            {
                "type": codes.concept("task-input-type", "school-context"),
                "valueString": shared.student.school_context,
            }
        )
    return inputs


def _outputs(state: TaskState) -> list[dict]:
    outputs = []
    if state.appointment_at and state.status in lifecycle.IN_PROGRESS + ("bounced",):
        outputs.append(
            {
                "type": codes.concept("task-output-type", "appointment"),
                "valueDateTime": instant(state.appointment_at),
            }
        )
    if state.redirected_to and state.status == "redirected":
        outputs.append(
            {
                "type": codes.concept("task-output-type", "redirected-to"),
                "valueString": state.redirected_to,
            }
        )
    return outputs


def service_request(state: TaskState, shared: Shared) -> dict:
    """The ServiceRequest of ``state`` (US Core / SDOHCC ServiceRequest)."""
    r = state.referral
    body = {
        "resourceType": "ServiceRequest",
        "id": str(r.id),
        "meta": meta(state, codes.SERVICE_REQUEST_PROFILE),
        "identifier": [{**referral_identifier(), "value": str(r.id)}],
        "status": SR_STATUS.get(state.status, "active"),
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": codes.SNOMED,
                        "code": codes.COUNSELLING[0],
                        "display": codes.COUNSELLING[1],
                    }
                ]
            },
            codes.concept("referral-tier", r.tier),
        ],  # fmt: skip
        "code": _service_code(r, shared.service_type),
        "priority": r.priority,
        "subject": ref("Patient", r.student_id),
        "requester": ref("Organization", r.tenant_id, shared.names.get(r.tenant_id)),
        "performer": [ref("Organization", r.provider_id, shared.names.get(r.provider_id))],
        "authoredOn": instant(r.sent_at or r.created_at),
        "orderDetail": _order_detail(shared),
    }
    if r.sent_at:
        body["occurrencePeriod"] = _period(r.sent_at, r.schedule_due_at)
    if r.reason_text and "referral-reason" in shared.share:
        body["reasonCode"] = [{"text": r.reason_text}]
    if r.consent_id:
        body["supportingInfo"] = [ref("Consent", r.consent_id)]
    if not body["orderDetail"]:
        del body["orderDetail"]
    return body


def service_code(referral: Referral, service_type: str | None) -> str:
    """The profile's service code: the named service's type, else by tier (B: assessment)."""
    if service_type in codes.DEFINED["referral-service"]:
        return service_type
    return "bh-assessment" if referral.tier == "B" else "bh-counseling"


def _service_code(referral: Referral, service_type: str | None) -> dict:
    code = service_code(referral, service_type)
    coding = [codes.coding("referral-service", code)]
    if code in codes.SERVICE_SNOMED:
        snomed, display = codes.SERVICE_SNOMED[code]
        coding.append({"system": codes.SNOMED, "code": snomed, "display": display})
    return {"coding": coding, "text": codes.DISPLAY["referral-service"][code]}


def _order_detail(shared: Shared) -> list[dict]:
    """Safe-contact preferences, or that the family must not be contacted directly (no
    consent to share contact details: the school stays the go-between)."""
    if "contact-details" not in shared.share or not shared.student:
        return [
            {
                "coding": [
                    {
                        "system": codes.SDOHCC_TEMPORARY,
                        "code": "contacting-subject-prohibited",
                        "display": "Contacting subject prohibited",
                    }
                ]
            }
        ]
    details = []
    caregivers = shared.student.caregivers
    for code, flag in (("no-voicemail", "no_voicemail"), ("do-not-call", "do_not_call")):
        if any(getattr(c, flag) for c in caregivers):
            details.append(codes.concept("safe-contact", code))
    return details
