"""Housekeeping: removing what is kept only for a while."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from baton.platform.models.base import utcnow
from baton.platform.services import idempotency
from baton.workers.runtime import job


@job
def forget_idempotency_keys() -> int:
    """Forget Idempotency-Keys older than ``IDEMPOTENCY_TTL_HOURS`` (default 24; env
    ``BATON_IDEMPOTENCY_TTL_HOURS``); returns how many were deleted."""
    hours = float(current_app.config.get("IDEMPOTENCY_TTL_HOURS", 24))
    return idempotency.forget_idempotency_keys(utcnow(), timedelta(hours=hours))
