"""Reminders to navigators about referrals that have gone quiet."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import Notification, Referral
from baton.platform.services.notifications import notify
from baton.tenants.context import require_principal
from baton.tenants.scoping import scoped

STALE_AFTER = timedelta(days=14)  # no change in this long: someone should look
REMIND_EVERY = timedelta(days=7)


def stale_referrals(now: datetime, *, limit: int = 5000) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, referral_id) of open referrals unchanged for STALE_AFTER. System scope."""
    assert require_principal().unbound_system, "cross-district read: use system_scope()"
    rows = db.session.execute(
        select(Referral.tenant_id, Referral.id)
        .where(Referral.status.in_(lifecycle.OPEN), Referral.updated_at < now - STALE_AFTER)
        .order_by(Referral.updated_at)
        .limit(limit)
    ).all()
    return [(t, r) for t, r in rows]


def remind_if_stale(referral_id: uuid.UUID, now: datetime) -> bool:
    """Tell the referral's navigator it has gone quiet, at most once every REMIND_EVERY."""
    referral = db.session.scalars(scoped(Referral).where(Referral.id == referral_id)).first()
    if referral is None or referral.status not in lifecycle.OPEN:
        return False
    recent = db.session.scalars(
        scoped(Notification.id).where(
            Notification.referral_id == referral.id,
            Notification.kind == "stale-referral",
            Notification.created_at > now - REMIND_EVERY,
        )
    ).first()
    if recent is not None:
        return False
    notify(
        referral.created_by,
        "stale-referral",
        f"No change in {STALE_AFTER.days} days ({referral.status}): check in on this referral.",
        referral,
    )
    return True
