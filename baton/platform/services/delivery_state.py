"""What district staff may see of deliveries: one referral's FHIR delivery state (the push to
its provider's EHR, the remote Task, refused remote changes, the provider's last FHIR change)
and, for district admins, every delivery that gave up. Reads only; the rules for writing and
retrying live in ``outbox`` and ``email``, the same functions the JSON API calls.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import (
    FhirEndpoint,
    FhirMessage,
    Notification,
    ProviderOrg,
    PushedTask,
    QuarantinedChange,
    Referral,
    ReferralEvent,
    Service,
    User,
)
from baton.platform.services import email, outbox
from baton.platform.services import referrals as referrals_svc
from baton.tenants.scoping import scoped

PUSH_KINDS = ("push-bundle", "task-update")  # notifications belong to subscriptions


@dataclass
class ReferralFhirState:
    """A referral's FHIR side. ``messages``: its pushes and Task updates, newest first (only
    for the FHIR intake route); ``last_fhir_change``: the provider's latest status change that
    came through FHIR (Baton's /fhir, or mirrored from its EHR), whatever the route."""

    route: str
    messages: list[FhirMessage] = field(default_factory=list)
    pushed: PushedTask | None = None
    endpoint_url: str | None = None
    quarantined: list[QuarantinedChange] = field(default_factory=list)
    last_fhir_change: ReferralEvent | None = None

    @property
    def latest(self) -> FhirMessage | None:
        return self.messages[0] if self.messages else None

    @property
    def failed(self) -> list[FhirMessage]:
        return [m for m in self.messages if m.status == "failed"]


def referral_fhir_state(referral_id: uuid.UUID) -> ReferralFhirState:
    """The FHIR delivery state of a referral the caller may see (NotFound otherwise). Not
    audited itself: it is part of the referral page, whose read is."""
    referral = referrals_svc.access_referral(referral_id, audit=False)
    state = ReferralFhirState(route=referral.intake_route)
    state.last_fhir_change = _last_provider_fhir_change(referral)
    if referral.intake_route != "fhir":
        return state
    state.messages = _push_messages(referral)
    state.pushed = _pushed_task(referral)
    state.quarantined = _quarantined(referral)
    state.endpoint_url = _endpoint_url(referral, state)
    return state


def _endpoint_url(referral: Referral, state: ReferralFhirState) -> str | None:
    """Where the Task lives once pushed; before that, where delivery was last tried, or the
    service's intake endpoint it will be tried at."""
    if state.pushed is not None:
        return db.session.get(FhirEndpoint, state.pushed.endpoint_id).base_url
    if state.latest is not None and state.latest.target:
        return state.latest.target
    service = db.session.get(Service, referral.service_id) if referral.service_id else None
    return service.intake_contact if service else None


def _push_messages(referral: Referral) -> list[FhirMessage]:
    return db.session.scalars(
        scoped(FhirMessage)
        .where(FhirMessage.referral_id == referral.id, FhirMessage.kind.in_(PUSH_KINDS))
        .order_by(FhirMessage.created_at.desc(), FhirMessage.event_seq.desc())
    ).all()


def _pushed_task(referral: Referral) -> PushedTask | None:
    return db.session.scalars(
        scoped(PushedTask).where(PushedTask.referral_id == referral.id)
    ).one_or_none()


def _quarantined(referral: Referral) -> list[QuarantinedChange]:
    return db.session.scalars(
        scoped(QuarantinedChange)
        .where(QuarantinedChange.referral_id == referral.id)
        .order_by(QuarantinedChange.received_at.desc())
    ).all()


def _last_provider_fhir_change(referral: Referral) -> ReferralEvent | None:
    return db.session.scalars(
        scoped(ReferralEvent)
        .where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.surface == "fhir",
            ReferralEvent.actor_kind == lifecycle.PROVIDER,
        )
        .order_by(ReferralEvent.seq.desc())
        .limit(1)
    ).first()


@dataclass
class FailedDeliveries:
    """Everything that did not get through, for the district admin's page: e-mails with
    their recipient, FHIR messages with their provider, refused remote changes with the EHR."""

    emails: list[tuple[Notification, str | None]]
    fhir: list[tuple[FhirMessage, str | None]]
    quarantined: list[tuple[QuarantinedChange, str | None]]


def failed_deliveries() -> FailedDeliveries:
    """The district's failed e-mails and FHIR messages (dead letters) and quarantined remote
    changes, newest first (district admins: ``admin.manage``, checked by each list)."""
    emails = email.failed_deliveries()
    messages = outbox.failed_messages()
    changes = outbox.quarantined_changes()
    recipients = _names(User, User.email, {n.user_id for n in emails})
    providers = _names(ProviderOrg, ProviderOrg.name, {m.provider_id for m in messages})
    ehrs = _names(FhirEndpoint, FhirEndpoint.base_url, {c.endpoint_id for c in changes})
    return FailedDeliveries(
        emails=[(n, recipients.get(n.user_id)) for n in emails],
        fhir=[(m, providers.get(m.provider_id)) for m in messages],
        quarantined=[(c, ehrs.get(c.endpoint_id)) for c in changes],
    )


def _names(model, column, ids: set) -> dict:
    """id -> one column of non-tenant rows (users, providers, EHR endpoints) in one query."""
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, column).where(model.id.in_(ids))).all())
