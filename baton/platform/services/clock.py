"""The contact clock, acted on when due: escalations for non-connection and the day-3 bounce
decision. Sweeps select only referrals whose ``next_due_at`` has passed; each referral is
then handled under a row lock, and every due timestamp is consumed in the same transaction
as its effect, so each effect happens once however many sweeps and workers race."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import Referral
from baton.platform.services.navigation import open_escalation
from baton.platform.services.notifications import notify
from baton.tenants.context import require_principal
from baton.tenants.scoping import scoped


def due_referrals(now: datetime, *, limit: int = 500) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, referral_id) of open referrals with a due timestamp at or before ``now``,
    oldest first. Run inside a system scope: the sweep is cross-tenant by nature."""
    principal = require_principal()
    assert principal.unbound_system, "the sweep reads every district: use system_scope()"
    rows = db.session.execute(
        select(Referral.tenant_id, Referral.id)
        .where(Referral.next_due_at <= now, Referral.status.in_(lifecycle.OPEN))
        .order_by(Referral.next_due_at)
        .limit(limit)
    ).all()
    return [(tenant_id, referral_id) for tenant_id, referral_id in rows]


def apply_due_clocks(referral_id: uuid.UUID, now: datetime) -> list[str]:
    """Act on whatever is due for one referral; returns what was done.

    - contact not confirmed by ``contact_due_at``: escalation ``contact-overdue``;
    - high-need and not scheduled by ``schedule_due_at``: escalation ``high-need-unscheduled``;
    - no contact by ``bounce_due_at`` (day 3): the referral awaits a bounce decision, and
      the navigator who sent it is told (bouncing needs a person's reason).
    A referral locked by another worker is skipped; that worker does the work.
    """
    referral = db.session.scalars(
        scoped(Referral).where(Referral.id == referral_id).with_for_update(skip_locked=True)
    ).first()
    if referral is None or referral.status not in lifecycle.OPEN:
        return []
    done = []
    if _due(referral.contact_due_at, now):
        referral.contact_due_at = None
        if referral.contact_confirmed_at is None:
            _escalate(referral, "contact-overdue", "Contact not confirmed within the standard")
            done.append("contact-overdue")
    if _due(referral.schedule_due_at, now):
        referral.schedule_due_at = None
        if referral.high_need and not referral.ever_scheduled:
            _escalate(
                referral, "high-need-unscheduled", "High-need referral without a scheduled intake"
            )
            done.append("high-need-unscheduled")
    if _due(referral.bounce_due_at, now):
        referral.bounce_due_at = None
        if referral.contact_confirmed_at is None and referral.status != "bounced":
            referral.bounce_decision_due_since = now
            notify(
                referral.created_by,
                "bounce-decision",
                "Day 3 without contact: record a bounce reason and the next action.",
                referral_id=referral.id,
            )
            done.append("bounce-decision")
    referral.refresh_next_due()
    db.session.flush()
    return done


def _due(moment: datetime | None, now: datetime) -> bool:
    if moment is None:
        return False
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment <= now


def _escalate(referral: Referral, kind: str, reason: str) -> None:
    escalation = open_escalation(referral.id, reason=reason, kind=kind)
    notify(
        escalation.assigned_to,
        "escalation",
        f"New escalation: {reason.lower()}.",
        referral_id=referral.id,
    )
