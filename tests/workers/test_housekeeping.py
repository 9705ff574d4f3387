"""Housekeeping jobs: Idempotency-Keys are remembered for a window, then forgotten."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from baton.platform.extensions import db
from baton.platform.models.base import utcnow
from baton.platform.services.idempotency import forget_idempotency_keys as forget
from baton.workers.jobs.housekeeping import forget_idempotency_keys
from baton.workers.schedule import SCHEDULE


def _barrier(api, world, key: str):
    return api.post(
        f"/api/v1/referrals/{world.referral_a.id}/barriers",
        json={"kind": "transport"},
        headers={"Idempotency-Key": key},
    )


def _age(owner_engine, key: str, hours: float) -> None:
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE idempotency_records SET created_at = now() - :h * interval '1 hour'"
                " WHERE key = :k"
            ),
            {"h": hours, "k": key},
        )


def _keys(owner_engine) -> list[str]:
    with owner_engine.connect() as conn:
        return (
            conn.execute(text("SELECT key FROM idempotency_records ORDER BY key")).scalars().all()
        )


def test_keys_older_than_the_window_are_forgotten(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    first = _barrier(api, world, "old-key")
    assert _barrier(api, world, "old-key").headers["Idempotent-Replayed"] == "true"
    _barrier(api, world, "recent-key")
    _age(owner_engine, "old-key", 25)
    _age(owner_engine, "recent-key", 23)
    with app.app_context():
        assert forget_idempotency_keys() == 1  # the default window: 24 hours
    assert _keys(owner_engine) == ["recent-key"]
    again = _barrier(api, world, "old-key")  # a forgotten key makes a new request
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.json["id"] != first.json["id"]


def test_the_window_is_configurable(app, owner_engine, world, api_as):
    api = api_as("navigator@a.test")
    _barrier(api, world, "two-days-old")
    _age(owner_engine, "two-days-old", 48)
    app.config["IDEMPOTENCY_TTL_HOURS"] = 72  # BATON_IDEMPOTENCY_TTL_HOURS=72 in production
    try:
        with app.app_context():
            assert forget_idempotency_keys() == 0
    finally:
        app.config["IDEMPOTENCY_TTL_HOURS"] = 24
    assert _keys(owner_engine) == ["two-days-old"]


def test_a_window_must_be_positive(app):
    with app.app_context(), pytest.raises(ValueError):
        forget(utcnow(), timedelta(0))
    with app.app_context():
        db.session.rollback()


def test_the_cleanup_runs_daily():
    assert (forget_idempotency_keys, "default", 24 * 3600) in SCHEDULE
