"""E-mail for notifications, delivered from the notification rows (the outbox).

The e-mail says only that something is waiting in Baton: no student detail leaves for a
mail server. Delivery is at least once: a crash between the SMTP hand-off and the commit
sends again, which is why the message carries nothing but a pointer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.lifecycle import TERMINAL
from baton.platform.models import Notification, Referral, User
from baton.platform.models.base import utcnow
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.platform.services.notifications import PROVIDER_REFERRAL
from baton.platform.services.status_links import LIFETIME, issue_status_link
from baton.tenants.context import require_principal
from baton.tenants.scoping import access, scoped

MAX_ATTEMPTS = 5
Sender = Callable[[str, str, str], None]  # (to, subject, body)


def pending_emails(now: datetime, *, limit: int = 200) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, notification_id) of e-mails due for a (re)try. System scope."""
    assert require_principal().unbound_system, "cross-district read: use system_scope()"
    rows = db.session.execute(
        select(Notification.tenant_id, Notification.id)
        .where(
            Notification.email_status == "pending",
            (Notification.email_next_attempt_at.is_(None))
            | (Notification.email_next_attempt_at <= now),
        )
        .order_by(Notification.created_at)
        .limit(limit)
    ).all()
    return [(t, i) for t, i in rows]


def deliver_email(notification_id: uuid.UUID, now: datetime, send: Sender, base_url: str) -> str:
    """Send one pending e-mail; on failure back off exponentially, and after MAX_ATTEMPTS
    mark it failed with the error, visible to the district admin. Returns the new status."""
    row = db.session.scalars(
        scoped(Notification)
        .where(Notification.id == notification_id)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None or row.email_status != "pending":
        return row.email_status if row else "locked"
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        row.email_status = "none"
        return row.email_status
    subject = "Baton: something needs your attention"
    body = _body(row, base_url.rstrip("/"))
    try:
        send(user.email, subject, body)
    except Exception as exc:  # any transport failure is recorded, never raised  # noqa: BLE001
        row.email_attempts += 1
        row.email_error = f"{type(exc).__name__}: {exc}"[:300]
        if row.email_attempts >= MAX_ATTEMPTS:
            row.email_status = "failed"
            row.email_next_attempt_at = None
        else:
            row.email_next_attempt_at = now + timedelta(minutes=2**row.email_attempts)
        return row.email_status
    row.email_status = "sent"
    row.email_error = None
    return row.email_status


def _body(row: Notification, base: str) -> str:
    """A pointer into Baton; a provider's referral notice also carries its one-link update
    (the link itself shows only what the provider may see of that one referral)."""
    body = (
        f"You have a new Baton notification ({row.kind.replace('-', ' ')}).\n"
        f"Sign in to read it: {base}/notifications\n"
    )
    if row.kind != PROVIDER_REFERRAL or row.referral_id is None:
        return body
    referral = db.session.scalars(scoped(Referral).where(Referral.id == row.referral_id)).first()
    if referral is None or referral.status in TERMINAL:
        return body
    token = issue_status_link(referral, recipient_user_id=row.user_id)
    return body + (
        "\nOr update this referral's status without signing in (accept, decline, the intake "
        f"date, attendance). The link works for this one referral only and expires in "
        f"{LIFETIME.days} days:\n{base}/status-update?token={token}\n"
    )


def failed_deliveries() -> list[Notification]:
    """E-mails that gave up, for the district admin to see and retry."""
    require_permission("admin.manage")
    return db.session.scalars(
        scoped(Notification)
        .where(Notification.email_status == "failed")
        .order_by(Notification.created_at.desc())
    ).all()


def retry_delivery(notification_id: uuid.UUID) -> Notification:
    require_permission("admin.manage")
    row = access(db.session, Notification, notification_id)
    if row is None:
        raise NotFound("No such delivery")
    if row.email_status != "failed":
        raise InvalidInput(fields={"email_status": "only a failed delivery can be retried"})
    row.email_status, row.email_attempts = "pending", 0
    row.email_next_attempt_at, row.email_error = utcnow(), None
    record_audit("retry", "email-delivery", row.id, tenant_id=row.tenant_id)
    db.session.flush()
    return row
