"""Subscription resources (R5 backport, R4 form) and the Bundles sent to subscribers (§9).

Inbound: a structurally valid Subscription is checked against what Baton serves (the SDOHCC
Task topic, a ``Task?owner=`` filter, rest-hook, ``application/fhir+json``, ``id-only``) and
turned into a plain ``SubscriptionInput`` for the service, which decides the rest (whose
organisation, HTTPS only). Outbound: the Subscription as stored, its ``$status``, and the
history Bundles of a handshake, heartbeat or event notification, entry 0 a Parameters.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from baton.fhir_gateway import codes
from baton.fhir_gateway.mapping import instant
from baton.platform.errors import InvalidInput
from baton.platform.models import Subscription
from baton.platform.services.subscriptions import SubscriptionInput

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
SUBSCRIPTION_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription"
STATUS_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"
NOTIFICATION_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription-notification-r4"
FILTER_CRITERIA = f"{BACKPORT}/StructureDefinition/backport-filter-criteria"
HEARTBEAT_PERIOD = f"{BACKPORT}/StructureDefinition/backport-heartbeat-period"
PAYLOAD_CONTENT = f"{BACKPORT}/StructureDefinition/backport-payload-content"
FHIR_JSON = "application/fhir+json"
_OWNER_FILTER = re.compile(r"^Task\?owner=(?:.*/)?Organization/([0-9a-fA-F-]{36})$")


def parse_subscription(body: dict) -> SubscriptionInput:
    """A normalised Subscription -> what the subscriber asks for. InvalidInput (422) for
    anything Baton does not serve: another topic, a missing or malformed filter, another
    channel type, payload type or content (full-resource, empty)."""
    errors: dict[str, str] = {}
    channel = body.get("channel") or {}
    if body.get("criteria") != codes.TASK_TOPIC:
        errors["criteria"] = f"the topic Baton serves is {codes.TASK_TOPIC}"
    filters = _extension_values(body.get("_criteria"), FILTER_CRITERIA, "valueString")
    match = _OWNER_FILTER.match(filters[0]) if len(filters) == 1 else None
    if match is None:
        errors["criteria"] = "one filter: Task?owner=Organization/{your organization's id}"
    if channel.get("type") != "rest-hook":
        errors["channel.type"] = "only rest-hook channels are served"
    if channel.get("payload") != FHIR_JSON:
        errors["channel.payload"] = f"notifications are {FHIR_JSON}"
    content = _extension_values(channel.get("_payload"), PAYLOAD_CONTENT, "valueCode")
    if content not in ([], ["id-only"]):
        errors["channel.payload.content"] = "only id-only notifications are served"
    heartbeat = _extension_values(channel, HEARTBEAT_PERIOD, "valueUnsignedInt")
    if errors:
        raise InvalidInput("The Subscription cannot be served as asked", fields=errors)
    return SubscriptionInput(
        owner_id=uuid.UUID(match.group(1)),
        filter=filters[0],
        endpoint=channel.get("endpoint") or "",
        status=body.get("status", "requested"),
        headers=list(channel.get("header") or []),
        heartbeat_seconds=heartbeat[0] if heartbeat else None,
        reason=(body.get("reason") or "")[:300] or None,
        end=datetime.fromisoformat(body["end"]) if body.get("end") else None,
    )


def _extension_values(element: dict | None, url: str, key: str) -> list:
    return [e.get(key) for e in (element or {}).get("extension", []) if e.get("url") == url]


def subscription(row: Subscription, base: str) -> dict:
    """The stored subscription as a backport Subscription (headers are not echoed back:
    they may carry the subscriber's credentials)."""
    channel = {
        "type": "rest-hook",
        "endpoint": row.endpoint,
        "payload": FHIR_JSON,
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
    }
    if row.heartbeat_seconds:
        channel["extension"] = [
            {"url": HEARTBEAT_PERIOD, "valueUnsignedInt": row.heartbeat_seconds}
        ]
    body = {
        "resourceType": "Subscription",
        "id": str(row.id),
        "meta": {
            "versionId": str(row.version),
            "lastUpdated": instant(row.updated_at),
            "profile": [SUBSCRIPTION_PROFILE],
        },
        "status": row.status,
        "reason": row.reason or "Task changes for the owner's referrals",
        "criteria": codes.TASK_TOPIC,
        "_criteria": {"extension": [{"url": FILTER_CRITERIA, "valueString": row.filter}]},
        "channel": channel,
    }
    if row.end:
        body["end"] = instant(row.end)
    if row.last_error and row.status == "error":
        body["error"] = row.last_error
    return body


def status_parameters(row: Subscription, base: str, kind: str, events: list | None = None):
    """The SubscriptionStatus of ``row`` as a backport Parameters; ``events`` are
    (event number, timestamp, focus reference) for an event notification."""
    parameters = [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{row.id}"}},
        {"name": "topic", "valueCanonical": codes.TASK_TOPIC},
        {"name": "status", "valueCode": row.status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(row.events_count)},
    ]
    for number, at, focus in events or []:
        parameters.append(
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(number)},
                    {"name": "timestamp", "valueInstant": instant(at)},
                    {"name": "focus", "valueReference": {"reference": focus}},
                ],
            }
        )
    if row.last_error and row.status == "error":
        parameters.append({"name": "error", "valueCodeableConcept": {"text": row.last_error}})
    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": parameters,
    }


def notification_bundle(
    row: Subscription, base: str, kind: str, events: list | None = None, *, now: datetime
) -> dict:
    """A history Bundle for a ``handshake``, ``heartbeat`` or ``event-notification``:
    entry 0 the status, then (id-only) one entry per event naming its focus, no content."""
    status = status_parameters(row, base, kind, events)
    entries = [
        {
            "fullUrl": f"urn:uuid:{status['id']}",
            "resource": status,
            "request": {"method": "GET", "url": f"{base}/Subscription/{row.id}/$status"},
            "response": {"status": "200"},
        }
    ]
    for _number, _at, focus in events or []:
        entries.append(
            {
                "fullUrl": focus,
                "request": {"method": "PUT", "url": focus.removeprefix(f"{base}/")},
                "response": {"status": "200"},
            }
        )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": instant(now),
        "entry": entries,
    }


def status_bundle(row: Subscription, base: str) -> dict:
    """``$status``: a searchset Bundle holding the subscription's current status."""
    status = status_parameters(row, base, "query-status")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{status['id']}",
                "resource": status,
                "search": {"mode": "match"},
            }
        ],
    }
