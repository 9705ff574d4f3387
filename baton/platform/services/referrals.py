"""The referral lifecycle: create and send (the warm handoff), and every status change.

Every change goes through ``transition_referral``: the state machine (lifecycle.py) decides,
then one immutable event and one audit row are appended in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, or_

from baton.platform import lifecycle
from baton.platform.calendar import advance, parse_holidays
from baton.platform.errors import (
    ConsentRequired,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    TransitionRefused,
)
from baton.platform.extensions import db
from baton.platform.models import (
    Concern,
    Partnership,
    ProviderOrg,
    Referral,
    ReferralEvent,
    Service,
)
from baton.platform.models.base import as_utc, utcnow
from baton.platform.services.audit import record_audit, record_list_read
from baton.platform.services.common import actor_kind, require_permission, user_id
from baton.platform.services.consent import active_consent, consent_active, consent_allows
from baton.platform.services.escalations import resolve_escalations
from baton.platform.services.notifications import notify, notify_provider_staff
from baton.platform.services.outbox import record_task_change
from baton.platform.services.settings import tenant_settings
from baton.platform.services.students import access_student
from baton.tenants.context import require_principal
from baton.tenants.scoping import access, scoped


def access_referral(referral_id, *, audit: bool = True) -> Referral:
    """Load a referral the caller may see (404 for foreign and missing alike); audited."""
    require_permission("referral.read", "referral.manage", "provider.referrals")
    referral = access(db.session, Referral, referral_id)
    if referral is None:
        raise NotFound("No such referral")
    if audit:
        record_audit(
            "read",
            "referral",
            referral.id,
            tenant_id=referral.tenant_id,
            detail={"student_id": str(referral.student_id)},
        )
    return referral


def create_referral(
    *,
    student_id: uuid.UUID,
    concern_id: uuid.UUID,
    provider_id: uuid.UUID,
    service_id: uuid.UUID | None = None,
    reason_text: str | None = None,
    caregiver_present: bool = False,
    send: bool = True,
) -> Referral:
    """Start a referral from a tiered concern to a partner provider, and (by default) send it.

    Tier C concerns go to the crisis pathway, never to a referral. Raises InvalidInput for a
    bad concern, provider or service, and ConsentRequired (nothing created) when sending
    without active consent naming the provider.
    """
    require_permission("referral.manage")
    student = access_student(student_id, audit=False)
    concern = access(db.session, Concern, concern_id)
    service = _check_new(student, concern, provider_id, service_id)
    referral = Referral(
        id=uuid.uuid4(),  # known before the flush: create and send write one INSERT
        status="draft",
        event_count=0,
        tenant_id=student.tenant_id,
        student_id=student.id,
        concern_id=concern.id,
        provider_id=provider_id,
        service_id=service.id if service else None,
        tier=concern.tier,
        high_need=concern.high_need,
        reason_text=(reason_text or concern.summary or "").strip()[:500] or None,
        intake_route=service.intake_route if service else "portal",
        caregiver_present=bool(caregiver_present),
        created_by=user_id(),
    )
    db.session.add(referral)
    _append_event(referral, None, "draft", reason=None)
    record_audit(
        "create",
        "referral",
        referral.id,
        tenant_id=referral.tenant_id,
        detail={"student_id": str(student.id)},
    )
    if not send:
        db.session.flush()
        return referral
    with db.session.no_autoflush:  # the draft is never written on its own
        return _move(referral, "sent")


def _check_new(student, concern, provider_id, service_id) -> Service | None:
    errors = {}
    if concern is None or concern.student_id != student.id:
        errors["concern_id"] = "choose a concern recorded for this student"
    elif concern.tier == "C":
        errors["concern_id"] = "tier C is the crisis pathway, not a referral"
    partnered = db.session.scalars(
        scoped(Partnership).where(
            Partnership.provider_id == provider_id, Partnership.active.is_(True)
        )
    ).first()
    if partnered is None:
        errors["provider_id"] = "choose a provider your district actively partners with"
    service = None
    if service_id is not None:
        service = db.session.get(Service, service_id)
        if service is None or service.provider_id != provider_id or not service.active:
            errors["service_id"] = "choose an active service of that provider"
    if errors:
        raise InvalidInput(fields=errors)
    return service


def _attach_consent(referral: Referral) -> None:
    consent = active_consent(referral.student_id, referral.provider_id)
    if consent is None:
        provider = db.session.get(ProviderOrg, referral.provider_id)
        raise ConsentRequired(
            f"No active consent names {provider.name if provider else 'this provider'}: "
            "record the family's consent before sending."
        )
    referral.consent_id = consent.id
    if "referral-reason" not in consent.share_classes:
        referral.reason_text = None  # minimum necessary: not consented, not kept for sharing


def send_referral(referral_id: uuid.UUID, *, expected_version: int | None = None) -> Referral:
    """Send a draft through the provider's intake route and start the contact clock.

    Raises ConsentRequired when no active consent names the provider (nothing is sent)."""
    return transition_referral(referral_id, "sent", expected_version=expected_version)


REMINDER_BEFORE = timedelta(days=1)
# Reaching these confirms the family connected: open escalations close themselves.
CONNECTED = frozenset({"first-appointment-attended", "engaged"})


@dataclass
class Appointment:
    at: datetime
    place: str | None = None
    link: str | None = None
    what_to_bring: str | None = None
    family_contact: str | None = None


def transition_referral(
    referral_id: uuid.UUID,
    target: str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
    appointment: Appointment | None = None,
    redirected_to: str | None = None,
    provider_ref: dict | None = None,
    foreign_codes: list[dict] | None = None,
) -> Referral:
    """Move a referral to ``target`` if the state machine lets the acting principal.

    Raises PreconditionFailed when ``expected_version`` is stale, TransitionRefused (409)
    with the rule's code when the move is not allowed, InvalidInput for missing details,
    ConsentRequired when a provider moves a referral whose consent is no longer active.
    ``provider_ref`` ({"system", "value"}) records the provider's own identifier with the
    move; ``foreign_codes``, the EHR's own codings the move was read from (FHIR gateway's
    code map), are kept in the event and audit detail. Appends one event and one audit
    row; keeps the due timestamps in step.
    """
    require_permission("referral.manage", "provider.referrals")
    referral = access_referral(referral_id, audit=False)
    if expected_version is not None and expected_version != referral.version:
        raise PreconditionFailed()
    return _move(
        referral,
        target,
        reason=reason,
        appointment=appointment,
        redirected_to=redirected_to,
        provider_ref=provider_ref,
        foreign_codes=foreign_codes,
    )


def record_phone_intake(
    referral_id: uuid.UUID, appointment: Appointment, *, expected_version: int | None = None
) -> Referral:
    """The warm handoff with a provider reached by phone: the navigator records, on the
    provider's behalf, its acceptance (when not yet recorded) and the intake it booked.

    Raises InvalidInput for a provider with its own portal or EHR (it answers itself)."""
    referral = access_referral(referral_id, audit=False)
    if referral.intake_route != "phone":
        raise InvalidInput(fields={"appointment_at": "this provider records its own bookings"})
    if referral.status in ("sent", "received"):
        transition_referral(referral.id, "accepted", expected_version=expected_version)
        expected_version = None
    return transition_referral(
        referral.id, "scheduled", appointment=appointment, expected_version=expected_version
    )


def _move(
    referral: Referral,
    target: str,
    *,
    reason: str | None = None,
    appointment: Appointment | None = None,
    redirected_to: str | None = None,
    provider_ref: dict | None = None,
    foreign_codes: list[dict] | None = None,
) -> Referral:
    principal = require_principal()
    source = referral.status
    actor = _acting_actor(referral, source, target, actor_kind(principal))
    feedback_permitted = True
    if actor == lifecycle.PROVIDER and target in lifecycle.FEEDBACK_ONLY:
        feedback_permitted = consent_allows(referral, "status-feedback")
    refusal = lifecycle.check_transition(
        source,
        target,
        actor,
        feedback_permitted=feedback_permitted,
        status_before_bounce=referral.status_before_bounce,
        ever_scheduled=referral.ever_scheduled,
        reason=reason,
    )
    if refusal:
        raise TransitionRefused(refusal.detail, refusal.code)
    if actor == lifecycle.PROVIDER and not consent_active(referral):
        raise ConsentRequired("The family's consent to share with this provider has ended.")
    _apply(referral, source, target, reason, appointment, redirected_to)
    _record_provider_ref(referral, provider_ref)
    referral.status = target
    referral.refresh_next_due()
    detail = _event_detail(referral, source, target, provider_ref)
    if actor != actor_kind(principal):
        detail["on_behalf_of"] = actor
    audit_detail = {"from": source, "to": target}
    if foreign_codes:
        detail["foreign_codes"] = audit_detail["foreign_codes"] = foreign_codes
    _append_event(referral, source, target, reason=reason, detail=detail)
    record_task_change(referral)  # the EHR push and subscription notifications it owes
    _alert_district(referral, target, actor)
    record_audit(
        "status", "referral", referral.id, tenant_id=referral.tenant_id, detail=audit_detail
    )
    db.session.flush()
    return referral


def _record_provider_ref(referral: Referral, provider_ref: dict | None) -> None:
    if provider_ref:
        referral.provider_ref = str(provider_ref["value"])[:200]
        referral.provider_ref_system = (provider_ref.get("system") or "")[:300] or None


def _event_detail(referral: Referral, source: str | None, target: str, provider_ref) -> dict:
    """What an event records besides from/to/reason: enough to rebuild the referral as of
    that event (the FHIR gateway's Task history), without clinical content."""
    detail: dict = {}
    if target == "scheduled" and referral.appointment_at is not None:
        detail["appointment_at"] = as_utc(referral.appointment_at).isoformat()
    if target == "redirected" and referral.redirected_to:
        detail["redirected_to"] = referral.redirected_to
    if provider_ref:
        detail["provider_ref"] = {
            k: v for k, v in (("system", referral.provider_ref_system),
                              ("value", referral.provider_ref)) if v
        }  # fmt: skip
    return detail


def _alert_district(referral: Referral, target: str, actor: str) -> None:
    """A provider that declines or redirects hands the referral back: tell its navigator."""
    if actor == lifecycle.PROVIDER and target in ("declined", "redirected"):
        notify(
            referral.created_by,
            f"provider-{target}",
            f"The provider {target} the referral: choose another provider or an alternative plan.",
            referral,
        )


def _acting_actor(referral: Referral, source: str, target: str, actor: str) -> str:
    """A provider reached by phone has no portal or EHR: during the warm handoff the
    navigator records its answers (receipt, acceptance, the booked intake) on its behalf."""
    if actor != lifecycle.DISTRICT or referral.intake_route != "phone":
        return actor
    if lifecycle.DISTRICT in lifecycle.TRANSITIONS.get((source, target), frozenset()):
        return actor
    return lifecycle.PROVIDER


def _apply(referral, source, target, reason, appointment, redirected_to) -> None:
    """The side effects of entering ``target``: timestamps, details, due clocks."""
    now = utcnow()
    if target == "sent":
        _attach_consent(referral)  # nothing leaves the school without it
        _start_clock(referral, now)
        if referral.intake_route == "portal":
            notify_provider_staff(referral)
    elif target == "received":
        referral.received_at = now
    elif target == "declined":
        referral.decline_reason = reason
    elif target == "redirected":
        if not (redirected_to or "").strip():
            raise InvalidInput(fields={"redirected_to": "say where the family was redirected"})
        referral.redirected_to = redirected_to.strip()[:300]
    elif target == "scheduled" and source == "bounced" and appointment is None:
        pass  # resuming after a bounce keeps the appointment already booked
    elif target == "scheduled":
        if appointment is None or appointment.at is None:
            raise InvalidInput(fields={"appointment_at": "a scheduled status needs the date"})
        referral.appointment_at = appointment.at
        referral.appointment_place = appointment.place
        referral.appointment_link = appointment.link
        referral.what_to_bring = appointment.what_to_bring
        referral.family_contact = appointment.family_contact
        referral.ever_scheduled = True
        referral.schedule_due_at = None
        reminder = appointment.at - REMINDER_BEFORE
        referral.reminder_due_at = reminder if reminder > now else None
    elif target == "bounced":
        referral.status_before_bounce = source
        referral.bounce_due_at = None
        referral.bounce_decision_due_since = None
    if source == "bounced" and target != "bounced":
        referral.status_before_bounce = None
    if target in CONNECTED:
        resolve_escalations(referral, "connected")
    if target in lifecycle.TERMINAL:
        referral.closed_at = now
        referral.close_reason = reason
        referral.contact_due_at = referral.schedule_due_at = referral.bounce_due_at = None
        referral.attempt_prompt_due_at = referral.reminder_due_at = None
        if target == "closed-alternative-plan":
            resolve_escalations(referral, "alternative-plan")


def _start_clock(referral: Referral, now: datetime) -> None:
    """Due timestamps from the district's time standards and calendar."""
    after = _calendar(referral)
    settings = tenant_settings(referral.tenant_id)
    referral.sent_at = now
    referral.contact_due_at = after(now, timedelta(hours=settings.contact_standard_hours))
    referral.bounce_due_at = after(now, timedelta(days=settings.bounce_after_days - 1))
    referral.attempt_prompt_due_at = now + ATTEMPT_PROMPT_AFTER
    if referral.high_need:
        referral.schedule_due_at = after(now, timedelta(days=settings.high_need_schedule_days))


ATTEMPT_PROMPT_AFTER = timedelta(hours=4)  # time for the day-1 attempts before a nudge


def _calendar(referral: Referral):
    """``after(start, delta)`` under the district's calendar settings."""
    settings = tenant_settings(referral.tenant_id)
    holidays = parse_holidays(settings.holidays)

    def after(start: datetime, delta: timedelta) -> datetime:
        return advance(
            start,
            delta,
            count_weekends=settings.count_weekends,
            count_holidays=settings.count_holidays,
            holidays=holidays,
        )

    return after


def _append_event(
    referral: Referral, source: str | None, target: str, *, reason, detail: dict | None = None
) -> None:
    principal = require_principal()
    # The counter lives on the referral, whose versioned UPDATE serialises concurrent moves.
    referral.event_count = (referral.event_count or 0) + 1
    referral.last_event_at = now = utcnow()
    db.session.add(
        ReferralEvent(
            tenant_id=referral.tenant_id,
            referral_id=referral.id,
            seq=referral.event_count,
            at=now,
            actor_user_id=principal.user_id,
            actor_kind=actor_kind(principal),
            surface=principal.surface,
            from_status=source,
            to_status=target,
            reason=reason,
            detail=detail or {},
        )
    )


def referral_events(referral_id) -> list[ReferralEvent]:
    referral = access_referral(referral_id, audit=False)
    return db.session.scalars(
        scoped(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq)
    ).all()


def search_referrals(stmt, page_size: int) -> tuple[list[Referral], bool]:
    """Run a referral search built on ``scoped(Referral)`` (the FHIR gateway's): one page,
    audited as a list read, and whether more rows follow it."""
    require_permission("referral.read", "provider.referrals")
    rows = db.session.scalars(stmt.limit(page_size + 1)).all()
    page = rows[:page_size]
    record_list_read("referral", page)
    return page, len(rows) > page_size


@dataclass
class ReferralFilters:
    status: str | None = None
    school_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    tier: str | None = None
    high_need: bool | None = None
    overdue: bool | None = None
    student_id: uuid.UUID | None = None


def list_referrals(
    filters: ReferralFilters, *, after: tuple | None = None, limit: int = 50
) -> list[Referral]:
    """Referrals the caller may see, newest first, keyset-paginated on (created_at, id)."""
    require_permission("referral.read", "provider.referrals")
    stmt = scoped(Referral)
    stmt = _filtered(stmt, filters)
    if after:
        created_at, last_id = after
        stmt = stmt.where(
            or_(
                Referral.created_at < created_at,
                and_(Referral.created_at == created_at, Referral.id < last_id),
            )
        )
    rows = db.session.scalars(
        stmt.order_by(Referral.created_at.desc(), Referral.id.desc()).limit(limit)
    ).all()
    record_list_read("referral", rows)
    return rows


def _filtered(stmt, f: ReferralFilters):
    from baton.platform.models import Student

    if f.status:
        stmt = stmt.where(Referral.status == f.status)
    if f.provider_id:
        stmt = stmt.where(Referral.provider_id == f.provider_id)
    if f.tier:
        stmt = stmt.where(Referral.tier == f.tier)
    if f.high_need is not None:
        stmt = stmt.where(Referral.high_need.is_(f.high_need))
    if f.student_id:
        stmt = stmt.where(Referral.student_id == f.student_id)
    if f.overdue is not None:
        due = and_(Referral.next_due_at.is_not(None), Referral.next_due_at < utcnow())
        stmt = stmt.where(due if f.overdue else ~due)
    if f.school_id:
        stmt = stmt.join(
            Student,
            and_(Student.tenant_id == Referral.tenant_id, Student.id == Referral.student_id),
        )
        stmt = stmt.where(Student.school_id == f.school_id)
    return stmt


@dataclass
class TrackerRow:
    referral: Referral
    student_name: str
    provider_name: str
    overdue: bool


def named_query():
    """Referrals the caller may see, with their student's and provider's names."""
    from baton.platform.models import Student

    return (
        scoped(Referral)
        .add_columns(Student.first_name, Student.last_name, ProviderOrg.name)
        .join(
            Student,
            and_(Student.tenant_id == Referral.tenant_id, Student.id == Referral.student_id),
        )
        .join(ProviderOrg, ProviderOrg.id == Referral.provider_id)
    )


def _rows(stmt) -> list[TrackerRow]:
    now = utcnow()
    rows = [
        TrackerRow(
            r, f"{first} {last}", provider, bool(r.next_due_at and as_utc(r.next_due_at) < now)
        )
        for r, first, last, provider in db.session.execute(stmt).all()
    ]
    record_list_read("referral", [row.referral for row in rows])
    return rows


def tracker(
    filters: ReferralFilters | None = None, *, language: str | None = None, limit: int = 200
) -> list[TrackerRow]:
    """Open referrals for the weekly tracker: overdue first, then high-need, then next due.

    Filters: status, school, provider, tier, high-need, and the student's language."""
    from baton.platform.models import Student

    require_permission("referral.read")
    f = filters or ReferralFilters()
    overdue = and_(Referral.next_due_at.is_not(None), Referral.next_due_at < utcnow())
    stmt = _filtered(
        named_query().where(Referral.status.in_(lifecycle.OPEN)), replace(f, school_id=None)
    )
    if f.school_id:
        stmt = stmt.where(Student.school_id == f.school_id)
    if language:
        stmt = stmt.where(Student.preferred_language == language)
    stmt = stmt.order_by(
        overdue.desc(),
        Referral.high_need.desc(),
        Referral.next_due_at.asc().nulls_last(),
        Referral.created_at,
    ).limit(limit)
    return _rows(stmt)


def named_referrals(referral_ids) -> dict[uuid.UUID, TrackerRow]:
    """The given referrals with their names (for the escalation lists), an audited read."""
    require_permission("referral.read")
    ids = set(referral_ids)
    if not ids:
        return {}
    return {row.referral.id: row for row in _rows(named_query().where(Referral.id.in_(ids)))}
