"""Patient, Consent and Organization (fhir-profile.md §6), as plain FHIR JSON.

Patient carries only what ``baton.platform.services.sharing`` lets the caller see: contacts
and telecom with ``contact-details``, nothing clinical. Consent follows the SDOHCC shape.
"""

from __future__ import annotations

from baton.fhir_gateway import codes
from baton.fhir_gateway.mapping import instant, ref
from baton.platform.models import Consent, ProviderOrg, Tenant
from baton.platform.services.consent import is_active
from baton.platform.services.sharing import SharedCaregiver, SharedStudent

RELATIONSHIP = {  # caregiver relationship -> v3 RoleCode
    "parent": ("PRN", "parent"),
    "mother": ("MTH", "mother"),
    "father": ("FTH", "father"),
    "guardian": ("GUARD", "guardian"),
    "grandparent": ("GRPRN", "grandparent"),
    "foster parent": ("FTHFOST", "foster parent"),
}
METHOD = {
    "signed": "Signed consent form",
    "electronic": "Electronic consent",
    "verbal-witnessed": "Verbal consent, witnessed",
}


def patient(student: SharedStudent) -> dict:
    body = {
        "resourceType": "Patient",
        "id": str(student.id),
        "identifier": [
            {
                "use": "usual",
                "system": codes.identifier_system(f"{student.tenant_slug}/student"),
                "value": student.local_id,
            }
        ],
        "name": [{"family": student.last_name, "given": [student.first_name]}],
        "gender": "unknown",  # Baton does not record it
        "birthDate": student.birth_date.isoformat(),
        "communication": [{"language": _language(student.language), "preferred": True}],
    }
    if student.caregivers:
        body["contact"] = [_contact(c) for c in student.caregivers]
    return body


def _language(code: str) -> dict:
    return {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]}


def _contact(caregiver: SharedCaregiver) -> dict:
    """A caregiver as Patient.contact; its element id is the caregiver's id, which a
    Communication names as its recipient (``Reference.identifier``)."""
    contact = {
        "id": str(caregiver.id),
        "relationship": [_relationship(caregiver.relationship)],
        "name": {"text": caregiver.name},
    }
    telecom = []
    if caregiver.phone and not caregiver.do_not_call:
        telecom.append({"system": "phone", "value": caregiver.phone})
    if caregiver.email and "email" in caregiver.allowed_channels:
        telecom.append({"system": "email", "value": caregiver.email})
    if telecom:
        contact["telecom"] = telecom
    return contact


def _relationship(relationship: str) -> dict:
    code = RELATIONSHIP.get((relationship or "").strip().lower())
    if code is None:
        return {"text": relationship or "caregiver"}
    return {"coding": [{"system": codes.V3_ROLE_CODE, "code": code[0], "display": code[1]}]}


def consent(row: Consent, tenant: Tenant) -> dict:
    """The SDOHCC-shaped Consent: who may receive which classes, until when."""
    provision = {
        "type": "permit",
        "actor": [
            {
                "role": {
                    "coding": [
                        {
                            "system": codes.V3_PARTICIPATION_TYPE,
                            "code": "IRCP",
                            "display": "information recipient",
                        }
                    ]
                },
                "reference": ref("Organization", row.provider_id),
            }
        ],
        "code": [codes.concept("share-class", c) for c in row.share_classes],
    }
    if row.expires_on:
        provision["period"] = {"end": row.expires_on.isoformat()}
    body = {
        "resourceType": "Consent",
        "id": str(row.id),
        "status": "active" if is_active(row) else "inactive",
        "scope": {"coding": [{"system": codes.CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": codes.V3_ACT_CODE, "code": "IDSCL"}]}],
        "patient": ref("Patient", row.student_id),
        "dateTime": instant(row.obtained_at),
        "performer": [_performer(row)],
        "organization": [ref("Organization", row.tenant_id, tenant.name)],
        "sourceAttachment": {"title": METHOD.get(row.method, row.method)},
        "policyRule": {"coding": [{"system": codes.V3_ACT_CODE, "code": "OPTIN"}]},
        "provision": provision,
    }
    return body


def _performer(row: Consent) -> dict:
    if row.consenter == "student":
        return ref("Patient", row.student_id)
    return {"display": "Caregiver"}  # who, exactly, is not shared beyond the district


def organization(org: Tenant | ProviderOrg) -> dict:
    is_district = isinstance(org, Tenant)
    kind = ("edu", "Educational Institute") if is_district else ("prov", "Healthcare Provider")
    body = {
        "resourceType": "Organization",
        "id": str(org.id),
        "identifier": [
            {
                "system": codes.identifier_system("district" if is_district else "provider"),
                "value": org.slug,
            }
        ],
        "active": bool(org.active),
        "type": [
            {"coding": [{"system": codes.ORGANIZATION_TYPE, "code": kind[0], "display": kind[1]}]}
        ],
        "name": org.name,
    }
    if not is_district and org.phone:
        body["telecom"] = [{"system": "phone", "value": org.phone}]
    return body
