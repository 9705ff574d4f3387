"""Delivering to subscribers (§9): handshakes, heartbeats and id-only event notifications,
POSTed as history Bundles to the subscription's HTTPS rest-hook endpoint.

A notification names the changed Task and nothing else (id-only); the subscriber reads it
with its own token, under the usual access rules. TLS is verified (``FHIR_CA_BUNDLE``).
"""

from __future__ import annotations

from datetime import datetime

import requests

from baton.fhir_gateway import fhir
from baton.fhir_gateway.client import FHIR_JSON, _do_request
from baton.fhir_gateway.http import fhir_base
from baton.fhir_gateway.subscriptions import notification_bundle
from baton.platform.models import FhirMessage, Subscription


def _headers(row: Subscription) -> dict[str, str]:
    headers = {"Content-Type": FHIR_JSON}
    for line in row.headers or []:
        name, _, value = line.partition(":")
        if name.strip() and value.strip():
            headers[name.strip()] = value.strip()
    return headers


def post(row: Subscription, bundle: dict) -> None:
    """POST one Bundle to the endpoint; raises RemoteError unless it answers 2xx."""
    with requests.Session() as session:
        _do_request(session, "POST", row.endpoint, json=fhir.emit(bundle), headers=_headers(row))


def handshake(row: Subscription, now: datetime) -> None:
    post(row, notification_bundle(row, fhir_base(), "handshake", now=now))


def heartbeat(row: Subscription, now: datetime) -> None:
    post(row, notification_bundle(row, fhir_base(), "heartbeat", now=now))


def notification(row: Subscription, message: FhirMessage, now: datetime) -> None:
    """The event ``message`` stands for: its number, when it happened, the Task it changed."""
    base = fhir_base()
    event = (message.event_number, message.event_at, f"{base}/Task/{message.referral_id}")
    post(row, notification_bundle(row, base, "event-notification", [event], now=now))
