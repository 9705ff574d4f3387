"""The hosted FHIR endpoint, ``/fhir`` (R4 JSON). Thin handlers: authenticate, check the
scope, call a service, map, respond. Every error is an OperationOutcome (``http``)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from baton.fhir_gateway import (
    capability,
    client_key,
    communication,
    mapping,
    parties,
    reading,
    search,
)
from baton.fhir_gateway.http import (
    BadRequest,
    PreconditionStale,
    audit_refused_access,
    authenticate,
    fhir_base,
    if_match_version,
    read_body,
    require_scope,
    respond,
)
from baton.fhir_gateway.task_update import parse_inbound
from baton.platform.errors import ConsentRequired, NotFound
from baton.platform.lifecycle import IN_PROGRESS
from baton.platform.models import Referral
from baton.platform.oauth.scopes import permits
from baton.platform.services import consent as consent_svc
from baton.platform.services import contact, sharing
from baton.platform.services import referrals as svc
from baton.platform.services.audit import record_audit
from baton.tenants.scoping import scoped

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
PUBLIC = {"fhir.metadata", "fhir.smart_configuration", "fhir.client_jwks"}


@bp.before_request
def _authenticate():
    if request.endpoint not in PUBLIC:
        authenticate()


@bp.get("/metadata")
def metadata():
    return respond(capability.capability_statement())


@bp.get("/.well-known/smart-configuration")
def smart_configuration():
    return jsonify(capability.smart_configuration())


@bp.get("/.well-known/client-jwks.json")
def client_jwks():
    """Baton's public key as a SMART client of provider EHRs (they register this URL)."""
    return jsonify(client_key.public_jwks())


# ---------------------------------------------------------------- Task and ServiceRequest


def _referral(referral_id, resource_type: str, audit: bool = True) -> Referral:
    try:
        return svc.access_referral(referral_id, audit=audit)
    except NotFound:
        audit_refused_access(resource_type.lower(), referral_id)
        raise NotFound(f"No such {resource_type}") from None


def _one(referral: Referral, build) -> dict:
    state = reading.current_states([referral])[referral.id]
    students = build is not mapping.task
    return build(state, reading.shared_for([referral], students=students)[referral.id])


@bp.get("/Task/<referral_id>")
def read_task(referral_id):
    require_scope("Task", "r")
    return respond(_one(_referral(referral_id, "Task"), mapping.task))


@bp.get("/ServiceRequest/<referral_id>")
def read_service_request(referral_id):
    require_scope("ServiceRequest", "r")
    return respond(_one(_referral(referral_id, "ServiceRequest"), mapping.service_request))


@bp.get("/Task/<referral_id>/_history")
def task_history(referral_id):
    require_scope("Task", "r")
    referral = _referral(referral_id, "Task")
    shared = reading.shared_for([referral])[referral.id]
    states = _versions(referral)
    base = fhir_base()
    entries = [
        {
            "fullUrl": f"{base}/Task/{referral.id}/_history/{state.version}",
            "resource": mapping.task(state, shared),
            "request": {
                "method": "POST" if state is states[0] else "PUT",
                "url": "Task" if state is states[0] else f"Task/{referral.id}",
            },
            "response": {"status": "201" if state is states[0] else "200"},
        }
        for state in reversed(states)
    ]
    return respond(
        {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
    )


def _versions(referral: Referral) -> list:
    """The referral's versions the caller may see: a provider never saw it as a draft."""
    states = reading.history(referral, svc.referral_events(referral.id))
    if g.principal.kind == "provider":
        states = [state for state in states if state.status != "draft"]
    return states


def _vread(referral_id, version_id, resource_type: str, build):
    referral = _referral(referral_id, resource_type)
    state = next((s for s in _versions(referral) if str(s.version) == version_id), None)
    if state is None:
        raise NotFound(f"No version {version_id} of this {resource_type}")
    shared = reading.shared_for([referral])[referral.id]
    return respond(build(state, shared))


@bp.get("/Task/<referral_id>/_history/<version_id>")
def vread_task(referral_id, version_id):
    require_scope("Task", "r")
    return _vread(referral_id, version_id, "Task", mapping.task)


@bp.get("/ServiceRequest/<referral_id>/_history/<version_id>")
def vread_service_request(referral_id, version_id):
    require_scope("ServiceRequest", "r")
    return _vread(referral_id, version_id, "ServiceRequest", mapping.service_request)


@bp.put("/Task/<referral_id>")
def update_task(referral_id):
    """Versioned update: If-Match required; the change goes through transition_referral."""
    require_scope("Task", "u")
    referral = _referral(referral_id, "Task", audit=False)  # the move is audited
    body = read_body("Task")
    if body.get("id") != str(referral.id):
        raise BadRequest("The body's id must be the id in the URL")
    if if_match_version() != referral.event_count:
        raise PreconditionStale()
    state = reading.current_states([referral])[referral.id]
    shared = reading.shared_for([referral], students=False)[referral.id]
    current = mapping.task(state, shared)
    change = parse_inbound(body, current, referral.status, state.provider_ref)
    if change.target is not None:
        svc.transition_referral(
            referral.id,
            change.target,
            reason=change.reason,
            expected_version=referral.version,
            appointment=svc.Appointment(at=change.appointment_at)
            if change.appointment_at
            else None,
            redirected_to=change.redirected_to,
            provider_ref=change.provider_ref,
            foreign_codes=change.foreign_codes,
        )
        started = state.started or (
            referral.last_event_at if referral.status in IN_PROGRESS else None
        )
        state = reading.current(referral, change.reason, started)
    return respond(mapping.task(state, shared))  # what is shared did not change


def _search(resource_type: str, allowed: set[str], build):
    require_scope(resource_type, "s")
    query = search.parse(request.args, allowed, resource_type)
    order, keyset = search.page_criteria(query)
    stmt = scoped(Referral).where(*query.criteria)
    if keyset is not None:
        stmt = stmt.where(keyset)
    page, more = svc.search_referrals(stmt.order_by(*order), query.count)
    states = reading.current_states(page)
    shared = reading.shared_for(page)
    matches = [build(states[r.id], shared[r.id]) for r in page]
    includes = _includes(page, states, shared, query.includes)
    last = page[-1] if more else None
    cursor = search.encode_cursor(last.last_event_at, last.id) if last else None
    return respond(
        search.bundle(fhir_base(), f"/{resource_type}", request.args, matches, includes, cursor)
    )


def _includes(page, states, shared, includes: set[str]) -> list[dict]:
    found: list[dict] = []
    if "Task:focus" in includes and _may_read("ServiceRequest"):
        found += [mapping.service_request(states[r.id], shared[r.id]) for r in page]
    if "Task:patient" in includes and _may_read("Patient"):
        students = {s.student.id: s.student for s in shared.values() if s.student}
        found += [parties.patient(student) for student in students.values()]
    return found


def _may_read(resource_type: str) -> bool:
    return permits(g.principal.scopes or frozenset(), resource_type, "s")


@bp.get("/Task")
def search_tasks():
    return _search("Task", search.TASK_PARAMS, mapping.task)


@bp.get("/ServiceRequest")
def search_service_requests():
    return _search("ServiceRequest", search.SR_PARAMS, mapping.service_request)


# ---------------------------------------------------------------- Patient, Consent, Organization


@bp.get("/Patient/<student_id>")
def read_patient(student_id):
    require_scope("Patient", "r")
    try:
        student = sharing.access_shared_student(student_id)
    except NotFound:
        audit_refused_access("student", student_id)
        raise
    return respond(parties.patient(student))


@bp.get("/Consent/<consent_id>")
def read_consent(consent_id):
    require_scope("Consent", "r")
    try:
        row = consent_svc.access_consent(consent_id)
    except NotFound:
        audit_refused_access("consent", consent_id)
        raise
    if g.principal.kind == "provider" and not consent_svc.is_active(row):
        raise ConsentRequired("This consent was revoked or has expired.")
    record_audit("read", "consent", row.id, tenant_id=row.tenant_id)
    org = sharing.visible_organization(row.tenant_id)
    return respond(parties.consent(row, org))


@bp.get("/Organization/<organization_id>")
def read_organization(organization_id):
    require_scope("Organization", "r")
    return respond(parties.organization(sharing.visible_organization(organization_id)))


# ---------------------------------------------------------------- Communication


@bp.post("/Communication")
def create_communication():
    require_scope("Communication", "c")
    attempt_input = communication.parse_attempt(read_body("Communication"))
    attempt = contact.log_attempt(
        attempt_input.referral_id,
        caregiver_id=attempt_input.caregiver_id,
        channel=attempt_input.channel,
        outcome=attempt_input.outcome,
    )
    referral = svc.access_referral(attempt.referral_id, audit=False)
    body = communication.communication(attempt, referral.student_id)
    return respond(body, 201, {"Location": f"{fhir_base()}/Communication/{attempt.id}"})


@bp.get("/Communication/<contact_attempt_id>")
def read_communication(contact_attempt_id):
    require_scope("Communication", "r")
    try:
        attempt = contact.access_attempt(contact_attempt_id)
    except NotFound:
        audit_refused_access("contact-attempt", contact_attempt_id)
        raise
    referral = svc.access_referral(attempt.referral_id, audit=False)
    return respond(communication.communication(attempt, referral.student_id))


@bp.get("/Communication")
def search_communications():
    require_scope("Communication", "s")
    unknown = set(request.args) - {"based-on", "part-of", "_count", "_format"}
    if unknown or not (request.args.get("based-on") or request.args.get("part-of")):
        raise BadRequest("Search Communication by based-on or part-of")
    search.parse_count(request.args.get("_count"))
    refs = {request.args.get("based-on"), request.args.get("part-of")} - {None}
    ids = {ref.rsplit("/", 1)[-1] for ref in refs}
    if len(ids) != 1:
        raise BadRequest("based-on and part-of must name the same referral")
    try:
        referral = svc.access_referral(ids.pop(), audit=False)
        attempts = contact.list_attempts(referral.id)
    except NotFound:
        attempts, referral = [], None
    matches = [communication.communication(a, referral.student_id) for a in attempts]
    return respond(search.bundle(fhir_base(), "/Communication", request.args, matches, [], None))
