"""Code systems and identifier systems of the profile (fhir-profile.md), in one place.

Baton's own systems live under the canonical base (setting ``FHIR_CANONICAL_BASE``, default
``https://fhir.baton.example``): ``{base}/CodeSystem/{name}`` and ``{base}/sid/{name}``.
``DEFINED`` lists every code of every Baton system; the gateway emits no other, and the test
suite checks every coding it sees against this table.
"""

from __future__ import annotations

from flask import current_app

from baton.platform import lifecycle
from baton.platform.errors import BatonError
from baton.platform.services.consent import SHARE_CLASSES

SNOMED = "http://snomed.info/sct"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare"
SDOHCC_TEMPORARY = f"{SDOHCC}/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
TASK_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-TaskForReferralManagement"
SERVICE_REQUEST_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-ServiceRequest"
TASK_TOPIC = f"{SDOHCC}/SubscriptionTopic/Task"

COUNSELLING = ("409063005", "Counseling")  # SNOMED CT, the ServiceRequest category
# SNOMED CT procedure codes (US Core Procedure Codes) per service. The terminology owner
# picks them (fhir-profile.md §2); until an assessment code is picked, only its Baton code
# and text are sent.
SERVICE_SNOMED = {"bh-counseling": COUNSELLING}

BUSINESS_STATUS = tuple(s for s in lifecycle.STATUSES if s not in ("draft", "entered-in-error"))
DEFINED: dict[str, tuple[str, ...]] = {
    "referral-business-status": BUSINESS_STATUS,
    "decline-reason": lifecycle.DECLINE_REASONS,
    "bounce-reason": tuple(lifecycle.BOUNCE_REASONS),
    "referral-tier": ("A", "B"),
    "referral-service": ("bh-assessment", "bh-counseling"),
    "task-input-type": ("status-feedback-permitted", "school-context"),
    "task-output-type": ("appointment", "redirected-to"),
    "share-class": SHARE_CLASSES,
    "safe-contact": ("no-voicemail", "do-not-call"),
    "contact-outcome": ("no-answer", "voicemail", "wrong-number", "unsafe-to-contact", "declined"),
}
DISPLAY = {
    "referral-tier": {"A": "Brief school-based support", "B": "Community clinical assessment"},
    "referral-service": {
        "bh-assessment": "Behavioral health assessment",
        "bh-counseling": "Behavioral health counseling",
    },
}


class BadCode(BatonError):
    """A code outside the profile's value sets: a malformed request, not a business rule."""

    status = 400
    code = "bad-code"
    title = "A code is not in the profile's value set"


def base() -> str:
    return current_app.config["FHIR_CANONICAL_BASE"].rstrip("/")


def system(name: str) -> str:
    """The canonical URL of Baton code system ``name``."""
    assert name in DEFINED, name
    return f"{base()}/CodeSystem/{name}"


def identifier_system(name: str) -> str:
    """The canonical URL of Baton identifier system ``name`` (e.g. ``referral``)."""
    return f"{base()}/sid/{name}"


def coding(name: str, code: str, display: str | None = None) -> dict:
    """A coding from Baton system ``name``; refuses codes the system does not define."""
    if code not in DEFINED[name]:
        raise ValueError(f"{code!r} is not a code of {name}")
    shown = display or DISPLAY.get(name, {}).get(code) or code.replace("-", " ").capitalize()
    return {"system": system(name), "code": code, "display": shown}


def concept(name: str, code: str, text: str | None = None) -> dict:
    body = {"coding": [coding(name, code)]}
    if text:
        body["text"] = text
    return body


def code_in(concept_body: dict | None, name: str) -> str | None:
    """The code from Baton system ``name`` in a CodeableConcept, if any (unknown codes of
    that system raise ValueError: a bad code is the caller's error)."""
    for item in (concept_body or {}).get("coding", []):
        if item.get("system") == system(name):
            if item.get("code") not in DEFINED[name]:
                raise ValueError(f"{item.get('code')!r} is not a code of {system(name)}")
            return item["code"]
    return None
