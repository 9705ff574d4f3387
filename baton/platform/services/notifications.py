"""In-app notifications for staff; each is also an e-mail waiting in the outbox."""

from __future__ import annotations

import uuid

from baton.platform.extensions import db
from baton.platform.models import Notification, Referral
from baton.platform.models.base import utcnow
from baton.platform.services.common import user_id
from baton.tenants.scoping import scoped


def notify(
    recipient_id: uuid.UUID | None, kind: str, text: str, referral: Referral
) -> Notification | None:
    """Queue a notification about ``referral`` for one person of its district, in the
    caller's transaction. ``text`` must say no more about the student than that person may
    see; the e-mail that follows says nothing about the student at all."""
    if recipient_id is None:
        return None
    row = Notification(
        id=uuid.uuid4(),  # known now: a flush of many is one batch with no RETURNING
        user_id=recipient_id,
        kind=kind,
        text=text[:300],
        referral_id=referral.id,
        tenant_id=referral.tenant_id,
        email_status="pending",
    )
    db.session.add(row)
    return row


PROVIDER_REFERRAL = "provider-referral"


def notify_provider_staff(referral: Referral) -> list[Notification]:
    """Tell the intake staff of a portal-route provider that a referral is waiting for them.

    The text names only the district and the priority (no student detail); the e-mail that
    follows carries a one-link status update for this referral (services/email.py)."""
    from sqlalchemy import select

    from baton.platform.models import Membership, Tenant, User

    staff = db.session.scalars(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.provider_id == referral.provider_id,
            Membership.role == "provider_intake",
            User.active.is_(True),
        )
    ).all()
    district = db.session.get(Tenant, referral.tenant_id)
    text = (
        f"New {referral.priority} referral from {district.name} is waiting in the provider portal."
    )
    return [notify(user, PROVIDER_REFERRAL, text, referral) for user in staff]


def my_notifications(*, unread_only: bool = True, limit: int = 50) -> list[Notification]:
    stmt = scoped(Notification).where(Notification.user_id == user_id())
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return db.session.scalars(stmt.order_by(Notification.created_at.desc()).limit(limit)).all()


def mark_read(notification_ids: list[uuid.UUID]) -> int:
    """Mark the caller's own notifications read; others' ids are ignored."""
    rows = db.session.scalars(
        scoped(Notification).where(
            Notification.id.in_(notification_ids), Notification.user_id == user_id()
        )
    ).all()
    for row in rows:
        row.read_at = row.read_at or utcnow()
    return len(rows)
