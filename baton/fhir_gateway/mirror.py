"""Mirroring pushed Tasks (§1, §8): what an EHR changed on a Task Baton pushed to it comes
back into Baton through the same parsing and service functions as a hosted ``PUT /Task``.

Polling: ``GET Task?requester=<the districts' Organizations there>&_lastUpdated=gt<cursor>``,
following ``next``; the cursor is the EHR's ``Bundle.meta.lastUpdated`` minus a minute, and
versions already seen are skipped (dedupe by ``versionId``). A remote change that breaks
the profile's rules (an illegal move, a changed ``for``, a provider cancelling, no consent)
is quarantined: recorded for the district to see, not applied. Baton's copy is the record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from baton.fhir_gateway import fhir, mapping, reading
from baton.fhir_gateway.acting import as_provider
from baton.fhir_gateway.client import FhirClient, RemoteRejected
from baton.fhir_gateway.task_update import parse_inbound
from baton.platform.errors import BatonError
from baton.platform.extensions import db
from baton.platform.models import FhirEndpoint, PushedTask, QuarantinedChange
from baton.platform.models.base import utcnow
from baton.platform.services import referrals as svc
from baton.tenants.context import job_scope, require_principal

OVERLAP = timedelta(minutes=1)
MAX_PAGES = 20
_FROM_REMOTE = ("status", "statusReason", "businessStatus", "output", "note")


def apply_remote_task(endpoint: FhirEndpoint, link: PushedTask, remote: dict) -> str:
    """Apply one remote version of a pushed Task (normalised JSON), in the referral's job
    scope, as the provider. Returns "applied", "unchanged" or "quarantined"."""
    version = str(remote.get("meta", {}).get("versionId") or "")
    try:
        with db.session.begin_nested(), as_provider(endpoint.provider_id, "fhir"):
            outcome = _apply(link, remote)
    except BatonError as exc:
        outcome = "quarantined"
        _quarantine(endpoint, link, remote, version, exc)
    link.version_id = version or link.version_id
    return outcome


def _apply(link: PushedTask, remote: dict) -> str:
    referral = svc.access_referral(link.referral_id, audit=False)
    state = reading.current_states([referral])[referral.id]
    shared = reading.shared_for([referral])[referral.id]
    current = mapping.task(state, shared)
    change = parse_inbound(_incoming(current, remote), current, referral.status, state.provider_ref)
    if change.target is None:
        link.synced_count = referral.event_count
        return "unchanged"
    svc.transition_referral(
        referral.id,
        change.target,
        reason=change.reason,
        appointment=svc.Appointment(at=change.appointment_at) if change.appointment_at else None,
        redirected_to=change.redirected_to,
        provider_ref=change.provider_ref,
        foreign_codes=change.foreign_codes,
    )
    link.synced_count = referral.event_count  # the EHR has this one already
    return "applied"


def _incoming(current: dict, remote: dict) -> dict:
    """Baton's Task with the remote's status elements and FILL identifier: what the EHR
    would have PUT to Baton's own /fhir for the same change."""
    incoming = {k: v for k, v in current.items() if k not in _FROM_REMOTE}
    incoming.update({k: remote[k] for k in _FROM_REMOTE if k in remote})
    placer = [i for i in current.get("identifier", []) if _type(i) == "PLAC"]
    fillers = [i for i in remote.get("identifier", []) if _type(i) == "FILL"]
    incoming["identifier"] = placer + fillers
    return incoming


def _type(identifier: dict) -> str | None:
    codings = (identifier.get("type") or {}).get("coding", [])
    return next((c.get("code") for c in codings if c.get("code") in ("PLAC", "FILL")), None)


def _quarantine(endpoint, link: PushedTask, remote: dict, version: str, exc: BatonError):
    coding = ((remote.get("businessStatus") or {}).get("coding") or [{}])[0]
    db.session.add(
        QuarantinedChange(
            tenant_id=link.tenant_id,
            referral_id=link.referral_id,
            endpoint_id=endpoint.id,
            remote_version=version[:64],
            task_status=str(remote.get("status"))[:32],
            business_status=(coding.get("code") or "")[:64] or None,
            reason=f"{exc.code}: {exc.detail}"[:300],
        )
    )


def endpoints_to_poll() -> list:
    """Ids of endpoints that hold pushed Tasks. System scope."""
    assert require_principal().unbound_system, "cross-district read: use system_scope()"
    return db.session.scalars(select(PushedTask.endpoint_id).distinct()).all()


def poll_endpoint(endpoint: FhirEndpoint, now: datetime) -> dict[str, int]:
    """Fetch the Tasks the EHR changed since the cursor and mirror each (system scope:
    every district's pushed Tasks at this EHR). Returns counts per outcome."""
    links = db.session.scalars(select(PushedTask).where(PushedTask.endpoint_id == endpoint.id))
    by_task = {link.task_id: link for link in links}
    requesters = sorted({link.requester for link in by_task.values()})
    counts = {"applied": 0, "unchanged": 0, "quarantined": 0, "seen": 0, "unknown": 0}
    client = FhirClient(endpoint.base_url, endpoint.client_id, endpoint.scope)
    try:
        cursor = _poll(client, endpoint, by_task, requesters, counts)
    finally:
        client.close()
    endpoint.poll_cursor = cursor or endpoint.poll_cursor
    endpoint.polled_at, endpoint.poll_error = now, None
    return counts


def _poll(client, endpoint, by_task: dict, requesters: list[str], counts: dict) -> str | None:
    params = [("requester", ",".join(requesters)), ("_sort", "_lastUpdated"), ("_count", "100")]
    if endpoint.poll_cursor:
        params.append(("_lastUpdated", f"gt{endpoint.poll_cursor}"))
    url, cursor = f"Task?{urlencode(params)}", None
    for _ in range(MAX_PAGES):
        page = client.request("GET", url).json()
        if page.get("resourceType") != "Bundle":
            raise RemoteRejected("the Task search did not answer a Bundle")
        cursor = cursor or _cursor(page)
        for entry in page.get("entry", []):
            _mirror_entry(endpoint, by_task, entry.get("resource") or {}, counts)
        url = next(
            (link["url"] for link in page.get("link", []) if link.get("relation") == "next"), None
        )
        if not url:
            break
    return cursor


def _cursor(page: dict) -> str | None:
    stamp = (page.get("meta") or {}).get("lastUpdated")
    try:
        moment = datetime.fromisoformat(stamp) if stamp else utcnow()
    except ValueError:
        moment = utcnow()
    return mapping.instant(moment - OVERLAP)


def _mirror_entry(endpoint, by_task: dict, resource: dict, counts: dict) -> None:
    link = by_task.get(str(resource.get("id")))
    if resource.get("resourceType") != "Task" or link is None:
        counts["unknown"] += 1  # not a Task Baton pushed there: never touched
        return
    if not _newer(resource.get("meta", {}).get("versionId"), link.version_id):
        counts["seen"] += 1
        return
    try:
        remote = fhir.parse("Task", resource)
    except fhir.StructureError:
        counts["unknown"] += 1
        return
    with job_scope(link.tenant_id, "fhir mirror: apply a remote Task change"):
        counts[apply_remote_task(endpoint, link, remote)] += 1


def _newer(version, seen: str) -> bool:
    if version is None:
        return True
    if str(version).isdigit() and seen.isdigit():
        return int(version) > int(seen)
    return str(version) != seen
