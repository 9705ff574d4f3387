"""How long a POST's Idempotency-Key is remembered (the replay itself: api/http.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from baton.platform.extensions import db
from baton.platform.models import IdempotencyRecord

# A retry comes within minutes or hours of the first attempt; the stored response may name a
# student, so it is kept no longer than a retry is plausible (the window Stripe documents).
DEFAULT_TTL = timedelta(hours=24)


def forget_idempotency_keys(now: datetime, ttl: timedelta = DEFAULT_TTL) -> int:
    """Delete the stored responses of keyed POSTs made more than ``ttl`` before ``now``;
    returns how many. A retry with a forgotten key is a new request. Records belong to no
    district (their owner is the caller), so no tenant scope is involved."""
    if ttl <= timedelta(0):
        raise ValueError("the idempotency window must be positive")
    result = db.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - ttl)
    )
    return result.rowcount
