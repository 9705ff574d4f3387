"""Column helpers shared by the models."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import DateTime, Uuid
from sqlalchemy.orm import mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


uuid_pk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=uuid.uuid4)]
timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True), default=utcnow)]
