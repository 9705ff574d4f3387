"""Loading what the mapping needs for a page of referrals, in a fixed number of queries.

Versions: a Task's (and its ServiceRequest's) ``versionId`` is the referral's status-event
count, and version *n* is the referral as of its *n*-th event. History and vread are
derived from the immutable event log rather than stored a second time: the log already
holds every change a Task can show (status, reason, appointment, redirect, FILL identifier,
in each event's detail), and a copy could drift from it. ``referral.version`` (the JSON API's
ETag) is not used: the clock sweeps touch a referral's due timestamps without changing its
Task, and an EHR's ``If-Match`` must not go stale because of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from baton.fhir_gateway.mapping import Shared, TaskState
from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, Referral, ReferralEvent, Service, Tenant
from baton.platform.services import sharing
from baton.tenants.scoping import scoped


def shared_for(referrals: list[Referral], *, students: bool = True) -> dict[uuid.UUID, Shared]:
    """Per referral: its share classes, its student as the caller may see them, names.
    ``students=False``: only what a Task needs (the student only for school context)."""
    shares = sharing.share_classes(referrals)
    wanted = referrals
    if not students:
        wanted = [r for r in referrals if "school-context" in shares[r.id]]
    students = sharing.shared_students(wanted, shares=shares) if wanted else {}
    names = org_names({r.tenant_id for r in referrals}, {r.provider_id for r in referrals})
    service_ids = {r.service_id for r in referrals if r.service_id}
    types = dict(
        db.session.execute(
            select(Service.id, Service.service_type).where(Service.id.in_(service_ids))
        ).all()
        if service_ids
        else []
    )
    return {
        r.id: Shared(
            share=shares[r.id],
            student=students.get(r.student_id) if shares[r.id] else None,
            names=names,
            service_type=types.get(r.service_id),
        )
        for r in referrals
    }


def org_names(tenant_ids: set, provider_ids: set) -> dict[uuid.UUID, str]:
    """Display names of districts and providers (by primary key: the token's own
    organisation is already in the session)."""
    rows = [db.session.get(Tenant, i) for i in tenant_ids]
    rows += [db.session.get(ProviderOrg, i) for i in provider_ids]
    return {row.id: row.name for row in rows if row is not None}


def current_states(referrals: list[Referral]) -> dict[uuid.UUID, TaskState]:
    """Each referral's Task state now: its last event, and when work on it began."""
    if not referrals:
        return {}
    counts = {r.id: r.event_count for r in referrals}
    latest: dict[uuid.UUID, str | None] = {}
    started: dict[uuid.UUID, datetime] = {}
    # One query for the page: each referral's events are few (a handful of status changes).
    rows = db.session.execute(
        scoped(ReferralEvent)
        .with_only_columns(
            ReferralEvent.referral_id, ReferralEvent.seq, ReferralEvent.reason,
            ReferralEvent.to_status, ReferralEvent.at,
        )
        .where(
            ReferralEvent.tenant_id.in_({r.tenant_id for r in referrals}),
            ReferralEvent.referral_id.in_(list(counts)),
        )
        .order_by(ReferralEvent.seq)
    ).all()  # fmt: skip
    for referral_id, seq, reason, to_status, at in rows:
        if seq == counts[referral_id]:
            latest[referral_id] = reason
        if to_status in lifecycle.IN_PROGRESS:
            started.setdefault(referral_id, at)
    return {r.id: current(r, latest.get(r.id), started.get(r.id)) for r in referrals}


def current(r: Referral, reason: str | None, started: datetime | None) -> TaskState:
    """The Task state of ``r`` given its last event's reason and its first in-progress time
    (a caller that just moved it knows both without asking the database)."""
    return TaskState(
        referral=r,
        version=r.event_count,
        status=r.status,
        last_modified=r.last_event_at or r.created_at,
        reason=reason,
        status_before_bounce=r.status_before_bounce,
        appointment_at=r.appointment_at,
        redirected_to=r.redirected_to,
        provider_ref=provider_ref(r),
        started=started,
        ended=r.closed_at if r.status in lifecycle.TERMINAL else None,
    )


def provider_ref(r: Referral) -> dict | None:
    if not r.provider_ref:
        return None
    body = {"value": r.provider_ref}
    if r.provider_ref_system:
        body["system"] = r.provider_ref_system
    return body


def history(referral: Referral, events: list[ReferralEvent]) -> list[TaskState]:
    """The Task as of each event, oldest first (version n = the n-th event)."""
    states: list[TaskState] = []
    started = appointment = redirected = ref = None
    for event in events:
        detail = event.detail or {}
        if event.to_status in lifecycle.IN_PROGRESS and started is None:
            started = event.at
        appointment = _moment(detail.get("appointment_at")) or appointment
        redirected = detail.get("redirected_to") or redirected
        ref = detail.get("provider_ref") or ref
        states.append(
            TaskState(
                referral=referral,
                version=event.seq,
                status=event.to_status,
                last_modified=event.at,
                reason=event.reason,
                status_before_bounce=event.from_status if event.to_status == "bounced" else None,
                appointment_at=appointment,
                redirected_to=redirected,
                provider_ref=ref,
                started=started,
                ended=event.at if event.to_status in lifecycle.TERMINAL else None,
            )
        )
    _fill_from_current(referral, states)
    return states


def _fill_from_current(referral: Referral, states: list[TaskState]) -> None:
    """Events recorded before their detail carried the appointment and redirect: the
    newest version takes them from the referral itself."""
    if states:
        newest = states[-1]
        newest.appointment_at = newest.appointment_at or referral.appointment_at
        newest.redirected_to = newest.redirected_to or referral.redirected_to
        newest.provider_ref = newest.provider_ref or provider_ref(referral)


def _moment(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
