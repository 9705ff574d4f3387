"""Contact attempts as Communication (fhir-profile.md §7), both ways.

``basedOn`` the ServiceRequest, ``partOf`` the Task, ``status`` completed (the family was
reached, or a voicemail left) or not-done, ``statusReason`` from ``contact-outcome``,
``medium`` a v3 ParticipationMode. The recipient is a caregiver, named by
``Reference.identifier`` = (``{base}/sid/caregiver``, the Patient.contact element id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from baton.fhir_gateway import codes
from baton.fhir_gateway.codes import BadCode
from baton.fhir_gateway.mapping import instant, ref
from baton.platform.errors import InvalidInput
from baton.platform.models import ContactAttempt

OUTCOME = {  # attempt outcome -> (Communication.status, contact-outcome code)
    "reached": ("completed", None),
    "voicemail": ("completed", "voicemail"),
    "declined": ("completed", "declined"),
    "no-answer": ("not-done", "no-answer"),
    "wrong-number": ("not-done", "wrong-number"),
    "unsafe-to-contact": ("not-done", "unsafe-to-contact"),
}
MEDIUM = {  # channel -> v3 ParticipationMode (R4 has no SMS code: electronic, text "SMS")
    "phone": ("PHONE", "telephone"),
    "sms": ("ELECTRONIC", "electronic data"),
    "email": ("EMAILWRIT", "email"),
    "letter": ("MAILWRIT", "mail"),
    "in-person": ("FACE", "face-to-face"),
}
CHANNEL = {code: channel for channel, (code, _) in MEDIUM.items()} | {"ONLINEWRIT": "sms"}


def communication(attempt: ContactAttempt, student_id: uuid.UUID) -> dict:
    status, reason = OUTCOME[attempt.outcome]
    code, display = MEDIUM[attempt.channel]
    body = {
        "resourceType": "Communication",
        "id": str(attempt.id),
        "basedOn": [ref("ServiceRequest", attempt.referral_id)],
        "partOf": [ref("Task", attempt.referral_id)],
        "status": status,
        "medium": [
            {
                "coding": [
                    {"system": codes.V3_PARTICIPATION_MODE, "code": code, "display": display}
                ],
                "text": attempt.channel,
            }
        ],
        "subject": ref("Patient", student_id),
        "sent": instant(attempt.at),
    }
    if reason:
        body["statusReason"] = codes.concept("contact-outcome", reason)
    if attempt.caregiver_id:
        body["recipient"] = [
            {
                "identifier": {
                    "system": codes.identifier_system("caregiver"),
                    "value": str(attempt.caregiver_id),
                }
            }
        ]
    return body


@dataclass
class AttemptInput:
    referral_id: str
    caregiver_id: str
    channel: str
    outcome: str


def parse_attempt(body: dict) -> AttemptInput:
    """A structurally valid Communication -> the attempt to log. InvalidInput (422) for
    clinical free text (``payload``, ``note``) and for anything the profile does not allow."""
    if body.get("payload") or body.get("note"):
        raise InvalidInput(
            "Baton takes no clinical free text: remove Communication.payload and note",
            fields={"payload": "not allowed"},
        )
    errors: dict[str, str] = {}
    referral_id = _one_reference(body, "partOf", "Task", errors)
    based_on = _one_reference(body, "basedOn", "ServiceRequest", errors)
    if referral_id and based_on and based_on != referral_id:
        errors["basedOn"] = "must be the ServiceRequest of the Task in partOf"
    outcome = _outcome(body, errors)
    channel = _channel(body, errors)
    caregiver_id = _recipient(body, errors)
    if errors:
        raise InvalidInput(fields=errors)
    return AttemptInput(referral_id, caregiver_id, channel, outcome)


def _one_reference(body: dict, element: str, resource_type: str, errors: dict) -> str | None:
    items = body.get(element) or []
    refs = [item.get("reference", "") for item in items]
    if len(refs) != 1 or not refs[0].startswith(f"{resource_type}/"):
        errors[element] = f"one reference to a {resource_type}"
        return None
    return refs[0].removeprefix(f"{resource_type}/")


def _outcome(body: dict, errors: dict) -> str:
    try:
        reason = codes.code_in(body.get("statusReason"), "contact-outcome")
    except ValueError as exc:
        raise BadCode(str(exc)) from exc  # a code outside the value set: 400, as for Task
    for outcome, pair in OUTCOME.items():
        if pair == (body.get("status"), reason):
            return outcome
    errors["status"] = (
        "completed (reached, or statusReason voicemail/declined) or not-done with a "
        "statusReason from contact-outcome"
    )
    return ""


def _channel(body: dict, errors: dict) -> str:
    for medium in body.get("medium") or []:
        for item in medium.get("coding", []):
            if item.get("system") == codes.V3_PARTICIPATION_MODE and item.get("code") in CHANNEL:
                return CHANNEL[item["code"]]
    errors["medium"] = "a v3 ParticipationMode: " + ", ".join(sorted(CHANNEL))
    return ""


def _recipient(body: dict, errors: dict) -> str:
    for recipient in body.get("recipient") or []:
        identifier = recipient.get("identifier") or {}
        if identifier.get("system") == codes.identifier_system("caregiver"):
            return identifier.get("value", "")
    errors["recipient"] = "the caregiver reached for, by identifier (see Patient.contact.id)"
    return ""
