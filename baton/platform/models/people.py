"""Staff accounts and their role memberships (each in exactly one tenant, provider or county)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[uuid_pk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[timestamp]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", order_by="Membership.created_at"
    )


class Membership(db.Model):
    """A role a user holds in one scope: a district, a provider org, or a county."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN tenant_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN provider_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN county_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_scope",
        ),
        Index(None, "tenant_id", "role"),
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("provider_orgs.id"))
    county_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("counties.id"))
    created_at: Mapped[timestamp]

    user: Mapped[User] = relationship(back_populates="memberships")
