"""FHIR push and subscriptions: provider EHR endpoints, the Subscriptions Baton serves, the
outbox of outbound FHIR messages, the link from a referral to the Task pushed to an EHR,
and remote Task changes held back (quarantined) because they break the profile's rules.

Endpoints, code maps and subscriptions belong to a provider organisation (which serves many
districts), like OAuth clients: not tenant tables. Messages, links and quarantined changes
are about one district's referral: tenant tables, written in the same transaction as their
cause.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, utcnow, uuid_pk
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)
MESSAGE_KINDS = ("push-bundle", "task-update", "notification")
MESSAGE_STATUSES = ("pending", "delivered", "skipped", "failed")


class FhirEndpoint(db.Model):
    """A provider EHR's FHIR server that Baton pushes referrals to, and the client id the
    EHR registered for Baton there (Baton signs its assertions with its own key)."""

    __tablename__ = "fhir_endpoints"
    __table_args__ = (UniqueConstraint("provider_id", "base_url"),)

    id: Mapped[uuid_pk]
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"))
    base_url: Mapped[str] = mapped_column(String(300))
    client_id: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(Text)
    # Mirror polling: the next _lastUpdated=gt value (the EHR's own clock, minus a minute).
    poll_cursor: Mapped[str | None] = mapped_column(String(40))
    polled_at: Mapped[datetime | None] = mapped_column(aware)
    poll_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[timestamp]


class FhirCodeMapping(db.Model):
    """One line of a provider's map from its EHR's own codes (e.g. BSeR ``5.1.2``) to
    Baton's: a businessStatus or a decline reason (which element it fits follows from
    ``code``). Provider-owned like endpoints: the same map serves the EHR's PUTs to the
    hosted /fhir and the mirror of Tasks Baton pushed there."""

    __tablename__ = "fhir_code_maps"

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"), primary_key=True)
    system: Mapped[str] = mapped_column(String(300), primary_key=True)
    foreign_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[timestamp]


class Subscription(db.Model):
    """A topic-based Subscription (R5 backport, R4 form) owned by one provider organisation:
    rest-hook, id-only, to an HTTPS endpoint. ``events_count`` is the durable event counter
    (``events-since-subscription-start``), raised in the transaction of each Task change."""

    __tablename__ = "fhir_subscriptions"
    __table_args__ = (Index(None, "provider_id", "status"), Index(None, "status", "due_at"))

    id: Mapped[uuid_pk]
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"))
    client_pk: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the OAuth client that made it
    status: Mapped[str] = mapped_column(String(12), default="requested")
    reason: Mapped[str | None] = mapped_column(String(300))
    filter: Mapped[str] = mapped_column(String(300))
    endpoint: Mapped[str] = mapped_column(String(500))
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    heartbeat_seconds: Mapped[int | None]
    end: Mapped[datetime | None] = mapped_column(aware)
    events_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    # What the delivery job owes it next: the handshake while requested, then heartbeats.
    due_at: Mapped[datetime | None] = mapped_column(aware)
    activated_at: Mapped[datetime | None] = mapped_column(aware)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(aware, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(aware)


class FhirMessage(TenantKeyed, db.Model):
    """An outbound FHIR message (the outbox): a referral pushed to its provider's EHR, a
    later change of its Task, or a subscription notification. Only ids are kept: the FHIR
    is built at delivery time from Baton's record, under the consent in force then."""

    __tablename__ = "fhir_outbox"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]),
        Index(None, "status", "next_attempt_at"),
        Index(None, "tenant_id", "status", "created_at"),
        Index(None, "tenant_id", "referral_id"),
    )

    id: Mapped[uuid_pk]
    kind: Mapped[str] = mapped_column(String(16))
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("fhir_subscriptions.id"))
    target: Mapped[str | None] = mapped_column(String(500))  # FHIR base or rest-hook URL
    event_number: Mapped[int | None]  # notifications: the subscription's event number
    event_seq: Mapped[int] = mapped_column(default=0)  # the referral event that caused it
    event_at: Mapped[datetime] = mapped_column(aware, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(aware)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[timestamp]
    delivered_at: Mapped[datetime | None] = mapped_column(aware)


class PushedTask(TenantKeyed, db.Model):
    """Where a referral's Task lives in its provider's EHR, the remote version Baton last
    saw there, and how many of the referral's events the remote Task reflects."""

    __tablename__ = "fhir_pushed_tasks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]),
        UniqueConstraint("endpoint_id", "task_id"),
    )

    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fhir_endpoints.id"))
    task_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[str] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(200))  # the district's Organization there
    synced_count: Mapped[int] = mapped_column(default=0)
    pushed_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(aware, default=utcnow, onupdate=utcnow)


class QuarantinedChange(TenantKeyed, db.Model):
    """A change an EHR made to a pushed Task that Baton refused (illegal move, no consent,
    a changed element): recorded and shown to the district, never applied. No free text
    from the EHR is kept, only codes and Baton's own reason."""

    __tablename__ = "fhir_quarantine"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]),
        Index(None, "tenant_id", "received_at"),
    )

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fhir_endpoints.id"))
    remote_version: Mapped[str] = mapped_column(String(64))
    task_status: Mapped[str | None] = mapped_column(String(32))
    business_status: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[timestamp]
