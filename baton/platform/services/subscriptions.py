"""Subscriptions Baton serves to provider EHRs (fhir-profile.md §9): who may hold one, where
notifications may go, and the delivery state of the handshake and heartbeats.

A subscription belongs to one provider organisation and reports changes of the Tasks it
owns, in every partner district; another provider's (or any district's) caller finds
nothing, exactly as if it did not exist. Notifications go by rest-hook to HTTPS only.
Lifecycle: created ``requested`` -> handshake -> ``active`` on a 2xx answer, else ``error``;
a failing heartbeat or notification turns it to ``error``, the next success back to
``active``; ``off`` (set by its owner, or by Baton once its ``end`` has passed) stops
everything: no notification is recorded or delivered, no heartbeat sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import or_, select, update

from baton.platform.errors import Forbidden, InvalidInput, NotFound, PreconditionFailed
from baton.platform.extensions import db
from baton.platform.models import Subscription
from baton.platform.models.base import as_utc, utcnow
from baton.tenants.context import require_principal

MIN_HEARTBEAT = 60
MAX_HEADERS = 5
SETTABLE_STATUSES = ("requested", "off")


@dataclass
class SubscriptionInput:
    """A subscription as its owner asks for it, already checked for FHIR shape."""

    owner_id: uuid.UUID | None  # the Organization in the Task?owner= filter
    filter: str
    endpoint: str
    status: str = "requested"
    headers: list[str] = field(default_factory=list)
    heartbeat_seconds: int | None = None
    reason: str | None = None
    end: datetime | None = None


def _owner() -> uuid.UUID:
    principal = require_principal()
    if principal.kind != "provider":
        raise Forbidden("Subscriptions are served to provider EHRs, for the Tasks they own")
    return principal.provider_id


def _check(data: SubscriptionInput, provider_id: uuid.UUID, *, creating: bool) -> None:
    errors = {}
    if data.end is not None and as_utc(data.end) <= utcnow() and (creating or data.status != "off"):
        errors["end"] = "the end has passed: give a later end, or none"
    if data.owner_id != provider_id:
        errors["criteria"] = f"the filter must be Task?owner=Organization/{provider_id}"
    url = urlparse(data.endpoint or "")
    if url.scheme != "https" or not url.hostname or len(data.endpoint) > 500:
        errors["channel.endpoint"] = "notifications go to an https:// endpoint only"
    if data.heartbeat_seconds is not None and data.heartbeat_seconds < MIN_HEARTBEAT:
        errors["channel.heartbeatPeriod"] = f"at least {MIN_HEARTBEAT} seconds"
    if len(data.headers) > MAX_HEADERS or any(len(h) > 500 or "\n" in h for h in data.headers):
        errors["channel.header"] = f"at most {MAX_HEADERS} single-line headers"
    if data.status not in SETTABLE_STATUSES:
        errors["status"] = "a subscriber sets requested (to (re)start it) or off"
    if errors:
        raise InvalidInput("The Subscription cannot be served as asked", fields=errors)


def create_subscription(data: SubscriptionInput) -> Subscription:
    """A new subscription for the caller's organisation, ``requested`` until its handshake
    succeeds. Raises Forbidden for a caller that is not a provider, InvalidInput for a
    foreign filter, a non-HTTPS endpoint, a too-short heartbeat."""
    provider_id = _owner()
    _check(data, provider_id, creating=True)
    row = Subscription(
        id=uuid.uuid4(),
        provider_id=provider_id,
        client_pk=require_principal().client_id,
        events_count=0,
        version=1,
    )
    _apply(row, data)
    db.session.add(row)
    db.session.flush()
    return row


def _apply(row: Subscription, data: SubscriptionInput) -> None:
    restart = data.status == "requested" and (
        row.status != "active" or data.endpoint != row.endpoint or data.headers != row.headers
    )
    row.filter, row.endpoint, row.headers = data.filter, data.endpoint, list(data.headers)
    row.heartbeat_seconds, row.reason, row.end = data.heartbeat_seconds, data.reason, data.end
    if data.status == "off":
        row.status, row.due_at = "off", None
    elif restart:
        row.status, row.due_at, row.last_error = "requested", utcnow(), None


def access_subscription(subscription_id) -> Subscription:
    """One of the caller's subscriptions; NotFound for anyone else's, a deleted or missing one."""
    principal = require_principal()
    try:
        subscription_id = uuid.UUID(str(subscription_id))
    except ValueError as exc:
        raise NotFound("No such Subscription") from exc
    row = db.session.get(Subscription, subscription_id)
    if (
        row is None
        or row.deleted_at is not None
        or principal.kind != "provider"
        or row.provider_id != principal.provider_id
    ):
        raise NotFound("No such Subscription")
    return row


def list_subscriptions(status: str | None = None) -> list[Subscription]:
    principal = require_principal()
    if principal.kind != "provider":
        return []
    stmt = select(Subscription).where(
        Subscription.provider_id == principal.provider_id, Subscription.deleted_at.is_(None)
    )
    if status:
        stmt = stmt.where(Subscription.status.in_(status.split(",")))
    return db.session.scalars(stmt.order_by(Subscription.created_at)).all()


def update_subscription(
    subscription_id, data: SubscriptionInput, *, expected_version: int | None = None
) -> Subscription:
    """Change endpoint, headers, heartbeat, end or status (``off``; ``requested`` re-runs
    the handshake). Raises PreconditionFailed when ``expected_version`` is stale."""
    row = access_subscription(subscription_id)
    if expected_version is not None and expected_version != row.version:
        raise PreconditionFailed()
    _check(data, row.provider_id, creating=False)
    _apply(row, data)
    row.version += 1
    db.session.flush()
    return row


def delete_subscription(subscription_id) -> None:
    """Stop and remove a subscription; its undelivered notifications are dropped."""
    row = access_subscription(subscription_id)
    row.status, row.due_at, row.deleted_at = "off", None, utcnow()
    db.session.flush()


def ended(row: Subscription, now: datetime) -> bool:
    return row.end is not None and as_utc(row.end) <= now


def end_subscription(row: Subscription) -> None:
    """Its ``end`` has passed: ``off``, like one its owner switched off (a new version)."""
    if row.status != "off":
        row.status, row.due_at, row.last_error = "off", None, None
        row.version += 1


def end_passed_subscriptions(now: datetime) -> int:
    """Switch off every subscription whose ``end`` has passed; returns how many. System
    scope (the periodic delivery job, before it looks for what is due)."""
    assert require_principal().unbound_system, "cross-provider write: use system_scope()"
    return db.session.execute(
        update(Subscription)
        .where(
            Subscription.end.is_not(None),
            Subscription.end <= now,
            Subscription.status != "off",
        )
        .values(status="off", due_at=None, last_error=None, version=Subscription.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount


def not_ended(now: datetime):
    """SQL criterion: the subscription has no end, or it is still ahead."""
    return or_(Subscription.end.is_(None), Subscription.end > now)


def due_subscriptions(now: datetime, *, limit: int = 200) -> list[tuple[uuid.UUID, str]]:
    """(subscription id, "handshake" | "heartbeat") owed now. System scope."""
    assert require_principal().unbound_system, "cross-provider read: use system_scope()"
    rows = db.session.execute(
        select(Subscription.id, Subscription.status)
        .where(
            Subscription.status.in_(("requested", "active", "error")),
            Subscription.due_at.is_not(None),
            Subscription.due_at <= now,
            not_ended(now),
        )
        .order_by(Subscription.due_at)
        .limit(limit)
    ).all()
    return [(i, "handshake" if s == "requested" else "heartbeat") for i, s in rows]


def claim_subscription(subscription_id: uuid.UUID, what: str) -> Subscription | None:
    """The subscription, locked, if it still owes ``what`` now; None otherwise."""
    row = db.session.scalars(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None or row.due_at is None or as_utc(row.due_at) > utcnow():
        return None
    if ended(row, utcnow()):
        end_subscription(row)
        return None
    wanted = ("requested",) if what == "handshake" else ("active", "error")
    return row if row.status in wanted else None


def record_delivery(row: Subscription, ok: bool, error: str | None, now: datetime) -> None:
    """The outcome of a handshake, heartbeat or notification: ``active`` after a success,
    ``error`` with the reason after a failure; the next heartbeat falls due a period on."""
    if ok:
        row.status, row.last_error = "active", None
        row.activated_at = row.activated_at or now
    else:
        row.status, row.last_error = "error", (error or "delivery failed")[:300]
    row.due_at = now + timedelta(seconds=row.heartbeat_seconds) if row.heartbeat_seconds else None
