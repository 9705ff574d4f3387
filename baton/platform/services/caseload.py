"""Care coordination: a coordinator's caseload and the weekly review list (product.md step 10)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func

from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import Barrier, Referral, ReferralEvent
from baton.platform.models.base import as_utc, utcnow
from baton.platform.services.audit import record_list_read
from baton.platform.services.common import require_permission, user_id
from baton.platform.services.referrals import named_query
from baton.tenants.scoping import scoped

QUIET_AFTER = timedelta(days=7)
REVIEW_AHEAD = timedelta(days=7)


@dataclass
class CaseRow:
    referral: Referral
    student_name: str
    provider_name: str
    open_barriers: list[str]
    last_event_at: datetime | None
    attended: int
    no_shows: int
    review_reasons: list[str] = field(default_factory=list)


def caseload() -> list[CaseRow]:
    """The open referrals the caller coordinates (those they started), each with why it is
    on this week's review list, if it is: an appointment within 7 days, open barriers, a
    bounce, a due time passed, or 7 days without any status change."""
    require_permission("caseload.read")
    stmt = (
        named_query()
        .where(Referral.status.in_(lifecycle.OPEN), Referral.created_by == user_id())
        .order_by(Referral.appointment_at.asc().nulls_last(), Referral.created_at)
    )
    found = db.session.execute(stmt).all()
    ids = [r.id for r, *_ in found]
    barriers, events = _open_barriers(ids), _event_summary(ids)
    rows = [
        _row(r, f"{first} {last}", provider, barriers.get(r.id, []), events.get(r.id, (None, 0, 0)))
        for r, first, last, provider in found
    ]
    record_list_read("referral", [row.referral for row in rows])
    return rows


def _row(referral, name, provider, barriers, summary) -> CaseRow:
    last, attended, no_shows = summary
    row = CaseRow(referral, name, provider, barriers, last, attended, no_shows)
    now = utcnow()
    appointment = as_utc(referral.appointment_at)
    if appointment and now <= appointment <= now + REVIEW_AHEAD:
        row.review_reasons.append("appointment this week")
    if barriers:
        row.review_reasons.append("open barriers")
    if referral.status == "bounced":
        row.review_reasons.append("bounced")
    if referral.next_due_at and as_utc(referral.next_due_at) < now:
        row.review_reasons.append("overdue")
    if last is None or as_utc(last) < now - QUIET_AFTER:
        row.review_reasons.append("no change for 7 days")
    return row


def _open_barriers(ids) -> dict:
    result: dict = {}
    if not ids:
        return result
    for referral_id, kind in db.session.execute(
        scoped(Barrier)
        .with_only_columns(Barrier.referral_id, Barrier.kind)
        .where(Barrier.referral_id.in_(ids), Barrier.status == "open")
    ):
        result.setdefault(referral_id, []).append(kind)
    return result


def _event_summary(ids) -> dict:
    if not ids:
        return {}
    attended = func.sum(case((ReferralEvent.to_status == "first-appointment-attended", 1), else_=0))
    missed = func.sum(case((ReferralEvent.to_status == "no-show", 1), else_=0))
    stmt = (
        scoped(ReferralEvent)
        .with_only_columns(ReferralEvent.referral_id, func.max(ReferralEvent.at), attended, missed)
        .where(ReferralEvent.referral_id.in_(ids))
        .group_by(ReferralEvent.referral_id)
    )
    return {rid: (last, int(a or 0), int(m or 0)) for rid, last, a, m in db.session.execute(stmt)}
