"""The FHIR outbox: outbound messages written with their cause, and their delivery state.

Every status event of a referral (``referrals._move``) calls ``record_task_change`` in the
same transaction: a referral whose intake route is a FHIR endpoint Baton pushes to (one is
registered for the provider; otherwise the EHR polls the hosted /fhir) gets a message that
brings the Task in its provider's EHR in step with Baton's record (the first one pushes
it), and every live Subscription of the provider gets a notification with the next event
number. Only ids are stored; the gateway builds the FHIR when it delivers, from Baton's
record and the consent in force then. Delivery is at least once and safe to repeat:
the receiving side's conditional creates and If-Match make a second delivery harmless.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import (
    FhirEndpoint,
    FhirMessage,
    Partnership,
    QuarantinedChange,
    Referral,
    Subscription,
)
from baton.platform.models.base import utcnow
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.platform.services.subscriptions import not_ended
from baton.tenants.context import require_principal
from baton.tenants.scoping import access, scoped

MAX_ATTEMPTS = 6
NOTIFYING = ("active", "error")  # an erroring subscription keeps counting and trying


def record_task_change(referral: Referral) -> list[FhirMessage]:
    """Queue what a new status event of ``referral`` owes the outside world, in the
    caller's transaction: a push to its provider's EHR (FHIR intake route) and one
    notification per live Subscription of the provider (each with its next event number)."""
    if referral.status == "draft":
        return []  # a draft is nobody's business outside the district
    messages = []
    if referral.intake_route == "fhir" and _pushed_to(referral.provider_id):
        kind = "push-bundle" if referral.status == "sent" else "task-update"
        messages.append(_message(referral, kind))
    if _partnered(referral):
        for subscription_id in _live_subscriptions(referral.provider_id):
            message = _message(referral, "notification")
            message.subscription_id = subscription_id
            message.event_number = _next_event_number(subscription_id)
            messages.append(message)
    if messages and referral in db.session.new:
        # The unit of work orders inserts by mapper name, not by foreign key: the new
        # referral must be written before the messages that point at it.
        db.session.flush()
    db.session.add_all(messages)
    return messages


def _pushed_to(provider_id: uuid.UUID) -> bool:
    """Push mode needs an EHR endpoint registered for the provider (``baton set-fhir-endpoint``).
    Without one the provider is hosted (fhir-profile.md §1, the default): its EHR polls /fhir."""
    found = db.session.scalars(
        select(FhirEndpoint.id).where(FhirEndpoint.provider_id == provider_id).limit(1)
    ).first()
    return found is not None


def _message(referral: Referral, kind: str) -> FhirMessage:
    return FhirMessage(
        id=uuid.uuid4(),
        tenant_id=referral.tenant_id,
        kind=kind,
        referral_id=referral.id,
        provider_id=referral.provider_id,
        event_seq=referral.event_count,
        event_at=referral.last_event_at or utcnow(),
        status="pending",
    )


def _partnered(referral: Referral) -> bool:
    return (
        db.session.scalars(
            scoped(Partnership.id).where(
                Partnership.tenant_id == referral.tenant_id,
                Partnership.provider_id == referral.provider_id,
                Partnership.active.is_(True),
            )
        ).first()
        is not None
    )


def _live_subscriptions(provider_id: uuid.UUID) -> list[uuid.UUID]:
    return db.session.scalars(
        select(Subscription.id)
        .where(
            Subscription.provider_id == provider_id,
            Subscription.status.in_(NOTIFYING),
            Subscription.activated_at.is_not(None),
            Subscription.deleted_at.is_(None),
            not_ended(utcnow()),  # past its end: switched off by the next delivery run
        )
        .order_by(Subscription.created_at)
    ).all()


def _next_event_number(subscription_id: uuid.UUID) -> int:
    """Raise the subscription's durable counter in one statement: the row lock it takes
    until commit keeps event numbers gapless and unique under concurrent changes."""
    return db.session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(events_count=Subscription.events_count + 1)
        .returning(Subscription.events_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def due_messages(now: datetime, *, limit: int = 200) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, message_id) of messages due for a (re)try, oldest first. System scope."""
    assert require_principal().unbound_system, "cross-district read: use system_scope()"
    rows = db.session.execute(
        select(FhirMessage.tenant_id, FhirMessage.id)
        .where(
            FhirMessage.status == "pending",
            (FhirMessage.next_attempt_at.is_(None)) | (FhirMessage.next_attempt_at <= now),
        )
        .order_by(FhirMessage.created_at)
        .limit(limit)
    ).all()
    return [(t, i) for t, i in rows]


def claim_message(message_id: uuid.UUID) -> FhirMessage | None:
    """The pending message, locked for this delivery; None when it is done or another
    worker holds it (a second delivery of the same job is then a no-op)."""
    row = db.session.scalars(
        scoped(FhirMessage).where(FhirMessage.id == message_id).with_for_update(skip_locked=True)
    ).first()
    return row if row is not None and row.status == "pending" else None


def mark_delivered(row: FhirMessage, now: datetime) -> None:
    row.status, row.delivered_at, row.last_error = "delivered", now, None


def mark_skipped(row: FhirMessage, why: str, now: datetime) -> None:
    """Nothing to deliver any more (consent ended before the push, subscription gone)."""
    row.status, row.delivered_at, row.last_error = "skipped", now, why[:300]


def record_failure(row: FhirMessage, error: str, now: datetime, *, permanent: bool) -> str:
    """Back off exponentially (2, 4, 8 … minutes); after MAX_ATTEMPTS, or at once when the
    receiver refused the message for good, the message fails (dead letter) with the error,
    for the district admin to see and retry. Returns the new status."""
    row.attempts += 1
    row.last_error = error[:300]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = "failed", None
    else:
        row.next_attempt_at = now + timedelta(minutes=2**row.attempts)
    return row.status


def failed_messages() -> list[FhirMessage]:
    """FHIR deliveries that gave up (dead letters), for the district admin."""
    require_permission("admin.manage")
    return db.session.scalars(
        scoped(FhirMessage)
        .where(FhirMessage.status == "failed")
        .order_by(FhirMessage.created_at.desc())
    ).all()


def retry_message(message_id: uuid.UUID) -> FhirMessage:
    """Put a failed FHIR delivery back in the queue, from its first attempt (audited)."""
    require_permission("admin.manage")
    row = access(db.session, FhirMessage, message_id)
    if row is None:
        raise NotFound("No such delivery")
    if row.status != "failed":
        raise InvalidInput(fields={"status": "only a failed delivery can be retried"})
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, utcnow(), None
    record_audit("retry", "fhir-delivery", row.id, tenant_id=row.tenant_id)
    db.session.flush()
    return row


def quarantined_changes(limit: int = 200) -> list[QuarantinedChange]:
    """Changes EHRs made to pushed Tasks that Baton refused (not applied), newest first."""
    require_permission("admin.manage")
    return db.session.scalars(
        scoped(QuarantinedChange).order_by(QuarantinedChange.received_at.desc()).limit(limit)
    ).all()
