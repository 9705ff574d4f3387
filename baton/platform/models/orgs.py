"""Counties, districts (tenants), schools, provider organisations, services, partnerships."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk
from baton.tenants.scoping import TenantKeyed

INTAKE_ROUTES = ("fhir", "portal", "phone")
MODALITIES = ("in-person", "telehealth", "on-campus")
INSURANCE = ("medicaid", "chip", "private", "uninsured")
SERVICE_TYPES = (
    "bh-assessment",
    "bh-counseling",
    "psychiatry",
    "family-therapy",
    "substance-use",
    "case-management",
)


def _location_checks() -> tuple[CheckConstraint, ...]:
    """The database's own guard behind services/locations.py: a real point, or none."""
    return (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="both_or_neither"),
    )


class County(db.Model):
    __tablename__ = "counties"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    suppression_threshold: Mapped[int] = mapped_column(default=11)
    created_at: Mapped[timestamp]


class Tenant(db.Model):
    """A school district: the unit of tenancy."""

    __tablename__ = "tenants"

    id: Mapped[uuid_pk]
    county_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("counties.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Chicago")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]


class School(TenantKeyed, db.Model):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("tenant_id", "code"), *_location_checks())

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(32))
    # Where the school is, for the directory's distances; optional.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[timestamp]


class ProviderOrg(db.Model):
    """A community behavioral-health provider; serves many districts through partnerships."""

    __tablename__ = "provider_orgs"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]


class Service(db.Model):
    """A provider's service, as listed in the directory. Provider-owned (``provider_id``)."""

    __tablename__ = "services"
    __table_args__ = (Index(None, "provider_id", "service_type"), *_location_checks())

    id: Mapped[uuid_pk]
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_orgs.id"))
    name: Mapped[str] = mapped_column(String(200))
    service_type: Mapped[str] = mapped_column(String(40))
    min_age: Mapped[int] = mapped_column(default=5)
    max_age: Mapped[int] = mapped_column(default=18)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    modalities: Mapped[list[str]] = mapped_column(JSON, default=list)
    insurance_accepted: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(default=0)
    current_wait_days: Mapped[int] = mapped_column(default=0)
    intake_route: Mapped[str] = mapped_column(String(16))
    intake_contact: Mapped[str | None] = mapped_column(String(300))  # FHIR base URL or phone
    # The site families travel to; none for telehealth-only services.
    site_address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]


class Partnership(TenantKeyed, db.Model):
    """A district's agreement with a provider; only active partnerships let referrals flow."""

    __tablename__ = "partnerships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider_id"),
        Index(None, "provider_id", "active"),
    )

    id: Mapped[uuid_pk]
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider_orgs.id"))
    agreement_start: Mapped[date]
    agreement_end: Mapped[date | None]
    data_sharing_signed: Mapped[date | None]
    data_sharing_expires: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]

    @classmethod
    def provider_criteria(cls, provider_id):
        return cls.provider_id == provider_id
