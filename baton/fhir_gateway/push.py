"""Push (SDOHCC "direct", fhir-profile.md §8): Baton writes a referral's Task to its
provider's EHR, then keeps it in step with Baton's record.

What is sent is exactly what the provider would read from Baton's hosted ``/fhir``: it is
built, at delivery time, as the provider (the same mapping, the same minimum-necessary
view under the consent in force). The first push is a transaction Bundle of conditional
creates (``ifNoneExist=identifier=…``) of the district and provider Organizations, the
Patient, the Consent, the ServiceRequest and the Task, so a retry finds what the first try
made and duplicates nothing. Later changes GET the remote Task, carry Baton's status
elements onto it and PUT it back with ``If-Match``. A remote version Baton has not seen
yet is mirrored first (``mirror``), so a change the EHR made is never overwritten unseen.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from flask import current_app

from baton.fhir_gateway import codes, fhir, mapping, parties, reading
from baton.fhir_gateway.acting import as_provider
from baton.fhir_gateway.client import FhirClient, RemoteRejected, RemoteUnavailable
from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import FhirEndpoint, FhirMessage, PushedTask, Referral, Service
from baton.platform.services import consent as consent_svc
from baton.platform.services import referrals as svc
from baton.platform.services import sharing
from baton.platform.services.audit import record_audit

# The Task elements Baton's record decides; everything else stays as the EHR has it.
STATUS_ELEMENTS = ("status", "businessStatus", "statusReason", "output", "input")
CARRIED = (*STATUS_ELEMENTS, "executionPeriod", "lastModified")
_LOCATION = re.compile(r"(?:^|/)([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/]+))?$")


@dataclass
class ProviderView:
    """A referral's resources as its provider may read them now."""

    referral: Referral
    task: dict
    service_request: dict
    patient: dict | None
    consent: dict | None
    district: dict
    provider: dict


def provider_view(referral_id: uuid.UUID) -> ProviderView:
    """Built as the provider (call inside ``as_provider``): what hosted reads would show."""
    referral = svc.access_referral(referral_id, audit=False)
    state = reading.current_states([referral])[referral.id]
    shared = reading.shared_for([referral])[referral.id]
    consent = None
    if shared.student and referral.consent_id:
        row = consent_svc.access_consent(referral.consent_id)
        tenant = sharing.visible_organization(referral.tenant_id)
        consent = parties.consent(row, tenant)
        consent["identifier"] = [
            {"system": codes.identifier_system("consent"), "value": str(row.id)}
        ]
    return ProviderView(
        referral=referral,
        task=mapping.task(state, shared),
        service_request=mapping.service_request(state, shared),
        patient=parties.patient(shared.student) if shared.student else None,
        consent=consent,
        district=parties.organization(sharing.visible_organization(referral.tenant_id)),
        provider=parties.organization(sharing.visible_organization(referral.provider_id)),
    )


def transaction_bundle(view: ProviderView) -> dict:
    """The first push: conditional creates, references between entries by ``urn:uuid``."""
    resources = [
        view.district,
        view.provider,
        view.patient,
        view.consent,
        view.service_request,
        view.task,
    ]
    resources = [r for r in resources if r]
    urns = {f"{r['resourceType']}/{r['id']}": f"urn:uuid:{uuid.uuid4()}" for r in resources}
    entries = [
        {
            "fullUrl": urns[f"{r['resourceType']}/{r['id']}"],
            "resource": _portable(r, urns),
            "request": {
                "method": "POST",
                "url": r["resourceType"],
                "ifNoneExist": f"identifier={_identifier_query(r)}",
            },
        }
        for r in resources
    ]
    return fhir.emit({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def _identifier_query(resource: dict) -> str:
    identifier = resource["identifier"][0]
    return f"{identifier['system']}|{identifier['value']}"


def _portable(resource: dict, urns: dict[str, str]) -> dict:
    """Baton's resource as a new one for another server: no id or version, references to
    the other entries by their ``urn:uuid``."""
    body = {k: v for k, v in resource.items() if k != "id"}
    if "meta" in body:
        body["meta"] = {k: v for k, v in body["meta"].items() if k == "profile"}
    return _rewrite(body, urns)


def _rewrite(node, urns: dict[str, str]):
    if isinstance(node, dict):
        return {
            k: urns.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, urns)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item, urns) for item in node]
    return node


def endpoint_for(message: FhirMessage, link: PushedTask | None) -> FhirEndpoint:
    """Where the referral's Task lives (once pushed), else its service's FHIR endpoint."""
    if link is not None:
        return db.session.get(FhirEndpoint, link.endpoint_id)
    referral = db.session.get(Referral, (message.tenant_id, message.referral_id))
    service = db.session.get(Service, referral.service_id) if referral.service_id else None
    base = (service.intake_contact or "").rstrip("/") if service else ""
    endpoint = db.session.scalars(
        db.select(FhirEndpoint).where(
            FhirEndpoint.provider_id == message.provider_id, FhirEndpoint.base_url == base
        )
    ).first()
    if endpoint is None:
        raise RemoteUnavailable(
            f"no FHIR endpoint is registered for this provider at {base or '(no intake URL)'}:"
            " run `baton set-fhir-endpoint`"
        )
    return endpoint


def client_for(endpoint: FhirEndpoint) -> FhirClient:
    return FhirClient(endpoint.base_url, endpoint.client_id, endpoint.scope)


def sync_task(message: FhirMessage) -> str | None:
    """Bring the EHR's copy of the message's referral in step with Baton's record (in the
    referral's job scope). Returns None when the EHR has it (sent now, or already in step),
    or why nothing may be sent; raises RemoteError when the EHR did not take it."""
    from baton.fhir_gateway import mirror

    link = db.session.get(PushedTask, (message.tenant_id, message.referral_id))
    endpoint = endpoint_for(message, link)
    message.target = endpoint.base_url
    client = client_for(endpoint)
    try:
        if link is None:
            return _first_push(client, endpoint, message)
        remote = _read_remote(client, link)
        if remote["meta"].get("versionId") != link.version_id:
            mirror.apply_remote_task(endpoint, link, remote)
        return _update(client, link, remote, message)
    finally:
        client.close()


def _first_push(client: FhirClient, endpoint: FhirEndpoint, message: FhirMessage):
    with as_provider(message.provider_id, "job"):
        view = provider_view(message.referral_id)
    if view.referral.status in lifecycle.TERMINAL:
        return "closed before it was pushed: nothing sent"
    if view.patient is None:
        return "no active consent names the provider: nothing sent"
    response = client.request("POST", "", json=transaction_bundle(view)).json()
    locations = [(e.get("response") or {}).get("location", "") for e in response.get("entry", [])]
    task_id, version = _located(locations, "Task")
    requester, _ = _located(locations, "Organization")  # the district's: the first entry
    db.session.add(
        PushedTask(
            tenant_id=message.tenant_id,
            referral_id=message.referral_id,
            endpoint_id=endpoint.id,
            task_id=task_id,
            version_id=version or "1",
            requester=f"Organization/{requester}",
            synced_count=view.referral.event_count,
        )
    )
    _audit(view.referral, "push")
    return None


def _located(locations: list[str], resource_type: str) -> tuple[str, str | None]:
    for location in locations:
        match = _LOCATION.search(location.split("?")[0])
        if match and match.group(1) == resource_type:
            return match.group(2), match.group(3)
    raise RemoteRejected(f"the transaction response gave no {resource_type} location")


def _read_remote(client: FhirClient, link: PushedTask) -> dict:
    response = client.request("GET", f"Task/{link.task_id}")
    try:
        return fhir.parse("Task", response.json())
    except (ValueError, fhir.StructureError) as exc:
        raise RemoteRejected(f"the EHR's Task/{link.task_id} is not a valid Task: {exc}") from exc


def _update(client: FhirClient, link: PushedTask, remote: dict, message: FhirMessage):
    with as_provider(message.provider_id, "job"):
        view = provider_view(message.referral_id)
    if link.synced_count >= view.referral.event_count:
        return None  # the EHR has it already: the change came from there
    desired = view.task  # compared element by element with what the EHR holds
    if all(remote.get(k) == desired.get(k) for k in STATUS_ELEMENTS):
        link.synced_count = view.referral.event_count
        return None  # already in step: nothing to PUT
    body = {k: v for k, v in remote.items() if k not in CARRIED}
    body.update({k: desired[k] for k in CARRIED if k in desired})
    response = client.request(
        "PUT",
        f"Task/{link.task_id}",
        json=fhir.emit(body),
        headers={"If-Match": f'W/"{link.version_id}"'},
    )
    link.version_id = _version_of(response) or link.version_id
    link.synced_count = view.referral.event_count
    _audit(view.referral, "push-update")
    return None


def _version_of(response) -> str | None:
    etag = response.headers.get("ETag", "")
    if etag:
        return etag.removeprefix("W/").strip('"')
    try:
        return response.json().get("meta", {}).get("versionId")
    except ValueError:
        return None


def _audit(referral: Referral, action: str) -> None:
    """Sharing with the EHR is a disclosure of the student record: audited like a read."""
    record_audit(
        action,
        "referral",
        referral.id,
        tenant_id=referral.tenant_id,
        detail={"student_id": str(referral.student_id), "to": "provider-ehr"},
    )
    current_app.logger.info("pushed referral %s to its provider's EHR", referral.id)
