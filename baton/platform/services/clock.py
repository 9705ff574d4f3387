"""The contact clock, acted on when due: attempt prompts, escalations for non-connection,
the day-3 bounce decision and appointment reminders. Sweeps select only referrals whose
``next_due_at`` has passed; a district's due referrals are then handled a chunk at a time
under row locks, and every due timestamp is consumed in the same transaction as its effect,
so each effect happens once however many sweeps and workers race."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import ContactAttempt, Referral
from baton.platform.models.base import as_utc
from baton.platform.services.clock_updates import write_clocks
from baton.platform.services.navigation import open_escalation
from baton.platform.services.notifications import notify
from baton.platform.services.settings import tenant_settings
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
    """Act on whatever is due for one referral; returns what was done (see
    ``apply_due_clocks_many``)."""
    return apply_due_clocks_many([referral_id], now).get(referral_id, [])


def apply_due_clocks_many(
    referral_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[str]]:
    """Act on whatever is due for referrals of the acting district, as one unit of work;
    returns what was done, per referral acted on.

    - contact not confirmed by ``contact_due_at``: escalation ``contact-overdue``;
    - high-need and not scheduled by ``schedule_due_at``: escalation ``high-need-unscheduled``;
    - no contact by ``bounce_due_at`` (day 3): the referral awaits a bounce decision, and
      the navigator who sent it is told (bouncing needs a person's reason);
    - ``attempt_prompt_due_at``: day-1 and day-2 nudges to make the contact attempts;
    - ``reminder_due_at``: the day before the intake appointment, remind the navigator.

    Each due timestamp is consumed in the caller's transaction with its effect. Referrals
    locked by another worker are skipped (that worker does the work). Whatever the number of
    referrals, the writes are one UPDATE of the referrals (clock_updates.py) and, in one
    flush, one batch of INSERTs per table of new rows. Raises whatever one referral raises;
    nothing of the others is then written either (the caller retries them one by one).
    """
    referrals = _lock_open(referral_ids)
    made = _attempts_made([r for r in referrals if _due(r.attempt_prompt_due_at, now)])
    done = {}
    with db.session.no_autoflush:  # the new rows go out together, in the flush at the end
        for referral in referrals:
            done[referral.id] = _act(referral, now, made.get(referral.id, 0))
            referral.refresh_next_due()
        write_clocks(referrals)
    db.session.flush()
    return done


def _lock_open(referral_ids: Sequence[uuid.UUID]) -> list[Referral]:
    """The open ones among ``referral_ids``, row-locked (skipping rows another transaction
    holds), freshly read even if this session loaded them before."""
    return db.session.scalars(
        scoped(Referral)
        .where(Referral.id.in_(referral_ids), Referral.status.in_(lifecycle.OPEN))
        .order_by(Referral.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()


def _attempts_made(referrals: list[Referral]) -> dict[uuid.UUID, int]:
    """Contact attempts logged so far, per referral (absent: none), in one query."""
    if not referrals:
        return {}
    rows = db.session.execute(
        select(ContactAttempt.referral_id, func.count())
        .where(
            ContactAttempt.tenant_id == referrals[0].tenant_id,
            ContactAttempt.referral_id.in_([r.id for r in referrals]),
        )
        .group_by(ContactAttempt.referral_id)
    ).all()
    return dict(rows)


def _act(referral: Referral, now: datetime, attempts_made: int) -> list[str]:
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
                referral,
            )
            done.append("bounce-decision")
    if _due(referral.attempt_prompt_due_at, now):
        done += _prompt_attempts(referral, now, attempts_made)
    if _due(referral.reminder_due_at, now):
        referral.reminder_due_at = None
        notify(
            referral.created_by,
            "appointment-reminder",
            "An intake appointment is tomorrow: remind the family and check for barriers.",
            referral,
        )
        done.append("appointment-reminder")
    return done


def _prompt_attempts(referral: Referral, now: datetime, made: int) -> list[str]:
    """Day 1: nudge until the day's attempts are made; day 2: one more attempt and a
    loop-back with the provider. Nothing once contact is confirmed."""
    referral.attempt_prompt_due_at = None
    if referral.contact_confirmed_at is not None or referral.sent_at is None:
        return []
    settings = tenant_settings(referral.tenant_id)
    day_two = as_utc(referral.sent_at) + timedelta(days=1)
    if now < day_two:
        referral.attempt_prompt_due_at = day_two
        if made < settings.day1_attempts:
            notify(
                referral.created_by,
                "attempt-prompt",
                f"Day 1: {made} of {settings.day1_attempts} contact attempts made.",
                referral,
            )
            return ["attempt-prompt-day-1"]
        return []
    notify(
        referral.created_by,
        "attempt-prompt",
        "Day 2: make one more attempt and loop back with the provider.",
        referral,
    )
    return ["attempt-prompt-day-2"]


def _due(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and as_utc(moment) <= now


def _escalate(referral: Referral, kind: str, reason: str) -> None:
    open_escalation(referral.id, reason=reason, kind=kind)  # notifies the lead
