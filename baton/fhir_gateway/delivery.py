"""One delivery of one outbox message, or of a subscription's handshake or heartbeat: pick
it (skip if done or held by another worker), send it, record the outcome through the
outbox and subscription services (backoff, dead letter, subscription status)."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import current_app

from baton.fhir_gateway import notify, push
from baton.fhir_gateway.client import RemoteError
from baton.platform.errors import BatonError
from baton.platform.extensions import db
from baton.platform.models import FhirMessage, Subscription
from baton.platform.services import outbox, subscriptions


def deliver_message(message_id: uuid.UUID, now: datetime) -> str:
    """Deliver one outbox message (inside its district's job scope); returns its status."""
    row = outbox.claim_message(message_id)
    if row is None:
        return "done-or-locked"
    try:
        skipped = _send(row, now)
    except RemoteError as exc:
        current_app.logger.warning("FHIR delivery %s failed: %s", row.id, exc)
        status = outbox.record_failure(row, str(exc), now, permanent=not exc.transient)
        _subscription_outcome(row, False, str(exc), now, final=status == "failed")
        return status
    except BatonError as exc:  # e.g. the provider no longer partners with the district
        skipped = f"{exc.code}: {exc.detail}"
    except Exception as exc:  # a bug must not retry forever: count it, dead-letter it
        current_app.logger.exception("FHIR delivery %s broke", message_id)
        db.session.rollback()
        row = outbox.claim_message(message_id)
        if row is None:
            return "done-or-locked"
        return outbox.record_failure(row, f"{type(exc).__name__}: {exc}", now, permanent=False)
    if skipped:
        outbox.mark_skipped(row, skipped, now)
    else:
        outbox.mark_delivered(row, now)
        _subscription_outcome(row, True, None, now, final=True)
    return row.status


def _send(row: FhirMessage, now: datetime) -> str | None:
    if row.kind != "notification":
        return push.sync_task(row)
    subscription = db.session.get(Subscription, row.subscription_id)
    if subscription is not None and subscriptions.ended(subscription, now):
        subscriptions.end_subscription(subscription)  # if no delivery run has yet
        return "the subscription's end has passed"
    if subscription is None or subscription.status == "off" or subscription.deleted_at:
        return "the subscription was switched off or deleted"
    row.target = subscription.endpoint
    notify.notification(subscription, row, now)
    return None


def _subscription_outcome(row: FhirMessage, ok: bool, error, now: datetime, *, final: bool):
    """A notification that got through, or finally gave up, says how the subscription is."""
    if row.kind != "notification" or not final:
        return
    subscription = db.session.get(Subscription, row.subscription_id)
    if subscription is not None and subscription.status in outbox.NOTIFYING:
        subscriptions.record_delivery(subscription, ok, error, now)


def deliver_to_subscription(subscription_id: uuid.UUID, what: str, now: datetime) -> str:
    """The handshake (``requested`` -> ``active`` on 2xx, else ``error``) or a heartbeat."""
    row = subscriptions.claim_subscription(subscription_id, what)
    if row is None:
        return "not-due"
    try:
        (notify.handshake if what == "handshake" else notify.heartbeat)(row, now)
    except RemoteError as exc:
        subscriptions.record_delivery(row, False, str(exc), now)
    else:
        subscriptions.record_delivery(row, True, None, now)
    return row.status
