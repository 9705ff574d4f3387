"""Stored results of POSTs made with an Idempotency-Key."""

from __future__ import annotations

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk


class IdempotencyRecord(db.Model):
    """Keyed by the caller (``owner`` = its scope and user) and its key: a retried POST gets the
    first response back. Only baton.platform.api.http reads it, always by owner; the daily
    housekeeping job deletes records past the window (services/idempotency.py)."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("owner", "key"), Index(None, "created_at"))

    id: Mapped[uuid_pk]
    owner: Mapped[str] = mapped_column(String(160))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[dict] = mapped_column(JSON)
    location: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[timestamp]
