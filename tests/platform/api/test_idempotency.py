"""Idempotency-Key on POSTs whose view returns a row for the response schema to dump."""

from __future__ import annotations

import pytest

REFERRALS = "/api/v1/referrals"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("barriers", {"kind": "transport"}),
        ("escalations", {"reason": "keyed retry"}),
    ],
)
def test_a_keyed_retry_replays_the_first_response(world, api_as, owner_engine, path, body):
    from sqlalchemy import text

    api = api_as("navigator@a.test")
    url = f"{REFERRALS}/{world.referral_a.id}/{path}"
    key = {"Idempotency-Key": f"retry-{path}"}
    first, second = (api.post(url, json=body, headers=key) for _ in range(2))
    assert (first.status_code, second.status_code) == (201, 201), first.text
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    with owner_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT status_code, body->>'id' FROM idempotency_records WHERE key = :k"),
            {"k": key["Idempotency-Key"]},
        ).one()
    assert tuple(stored) == (201, first.json["id"])
