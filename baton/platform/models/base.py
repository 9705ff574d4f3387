"""Column helpers shared by the models."""

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import DateTime, Uuid
from sqlalchemy.orm import mapped_column

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("baton_now", default=None)


def utcnow() -> datetime:
    """Now, in UTC. Inside ``travel_to`` (demo seeding, simulations) it is the given moment."""
    return _frozen.get() or datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they are stored as UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@contextmanager
def travel_to(moment: datetime) -> Iterator[datetime]:
    token = _frozen.set(moment)
    try:
        yield moment
    finally:
        _frozen.reset(token)


uuid_pk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=uuid.uuid4)]
timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True), default=utcnow)]
