"""FHIR delivery: the outbox (pushes to provider EHRs, subscription notifications), the
subscriptions' handshakes and heartbeats, and the mirror poll of pushed Tasks.

The periodic jobs select what is due in a system scope and enqueue one job per item, so a
Redis flush loses nothing: the rows stay pending in PostgreSQL and the next run enqueues
them again. Each item's job re-reads its row (locked, skipped if already done) and acts in
the scope of the district (a message) or of no district (a subscription, an endpoint).
"""

from __future__ import annotations

import uuid

from baton.fhir_gateway import delivery, mirror
from baton.fhir_gateway.client import RemoteError
from baton.platform.extensions import db
from baton.platform.models import FhirEndpoint
from baton.platform.models.base import utcnow
from baton.platform.services import outbox, subscriptions
from baton.tenants.context import job_scope, system_scope
from baton.workers.queues import FHIR, enqueue
from baton.workers.runtime import job


@job
def deliver_due_fhir(limit: int = 200) -> int:
    """Switch off subscriptions whose end has passed, then enqueue one job per outbox message
    and per subscription handshake or heartbeat that is due; returns how many."""
    now = utcnow()
    with system_scope("fhir outbox: find due deliveries"):
        subscriptions.end_passed_subscriptions(now)
        messages = outbox.due_messages(now, limit=limit)
        owed = subscriptions.due_subscriptions(now, limit=limit)
    for tenant_id, message_id in messages:
        enqueue(FHIR, deliver_fhir_message, str(tenant_id), str(message_id))
    for subscription_id, what in owed:
        enqueue(FHIR, deliver_to_subscription, str(subscription_id), what)
    return len(messages) + len(owed)


@job
def deliver_fhir_message(tenant_id: str, message_id: str) -> str:
    """Deliver one outbox message with backoff; returns its status afterwards."""
    with job_scope(uuid.UUID(tenant_id), "fhir outbox: deliver"):
        return delivery.deliver_message(uuid.UUID(message_id), utcnow())


@job
def deliver_to_subscription(subscription_id: str, what: str) -> str:
    """A subscription's handshake or heartbeat; returns its status afterwards."""
    with system_scope("fhir subscriptions: handshake or heartbeat"):
        return delivery.deliver_to_subscription(uuid.UUID(subscription_id), what, utcnow())


@job
def poll_fhir_endpoints() -> int:
    """Enqueue a mirror poll of every EHR that holds Tasks Baton pushed; returns how many."""
    with system_scope("fhir mirror: find endpoints to poll"):
        endpoint_ids = mirror.endpoints_to_poll()
    for endpoint_id in endpoint_ids:
        enqueue(FHIR, poll_fhir_endpoint, str(endpoint_id))
    return len(endpoint_ids)


@job
def poll_fhir_endpoint(endpoint_id: str) -> dict[str, int]:
    """Mirror what one EHR changed on the pushed Tasks since the last poll."""
    with system_scope("fhir mirror: poll one EHR for changed Tasks"):
        endpoint = db.session.get(FhirEndpoint, uuid.UUID(endpoint_id), with_for_update=True)
        if endpoint is None:
            return {}
        try:
            return mirror.poll_endpoint(endpoint, utcnow())
        except RemoteError as exc:
            db.session.rollback()
            _record_poll_error(endpoint_id, str(exc))
            return {"error": 1}


def _record_poll_error(endpoint_id: str, error: str) -> None:
    endpoint = db.session.get(FhirEndpoint, uuid.UUID(endpoint_id))
    endpoint.poll_error, endpoint.polled_at = error[:300], utcnow()
