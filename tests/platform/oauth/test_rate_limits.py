"""Rate limits per client and per user (Flask-Limiter on the suite's Redis; in memory with no
Redis): 429 with Retry-After, then recovery once the window has passed; usage per client."""

from __future__ import annotations

import base64
import secrets
import time

import pytest

from baton.platform.app import create_app
from baton.platform.extensions import db
from tests.conftest import base_config, login
from tests.oauth_support import register_app


@pytest.fixture
def tiny_app(database):
    """tiny_app(**limits) -> an app with those limits (its connections closed afterwards)."""
    made = []

    def make(**limits):
        config = base_config(
            SQLALCHEMY_DATABASE_URI=database.app_url,
            RATELIMIT_KEY_PREFIX=f"test-{secrets.token_hex(4)}",  # a fresh bucket per app
            **limits,
        )
        made.append(create_app(config))
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def _token(client, app_client, scope="referrals:read") -> str:
    basic = base64.b64encode(f"{app_client.client_id}:{app_client.secret}".encode()).decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    return response.json["access_token"]


@pytest.fixture
def sync(app, world):
    return register_app(
        app,
        tenant_id=world.tenant_a.id,
        grants=("client_credentials",),
        scopes="referrals:read",
        name="Busy sync",
    )


def _until_refused(client, path, headers=None, most=10):
    for n in range(1, most + 1):
        response = client.get(path, headers=headers or {})
        if response.status_code == 429:
            return n, response
    pytest.fail(f"no 429 within {most} requests")


@pytest.mark.parametrize("redis_url", ["suite", None], ids=["redis", "in-memory"])
def test_client_limit_answers_429_with_retry_after_then_recovers(tiny_app, world, sync, redis_url):
    overrides = {"RATE_LIMIT_PER_CLIENT": "4 per 2 seconds"}
    if redis_url is None:
        overrides["REDIS_URL"] = None
    client = tiny_app(**overrides).test_client()
    bearer = {"Authorization": f"Bearer {_token(client, sync)}"}
    n, refused = _until_refused(client, "/api/v1/referrals", bearer)
    assert n == 5  # the token request was counted per client and address, apart
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json["type"].endswith("/rate-limited")
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 3  # the window, rounded up to whole seconds
    time.sleep(retry_after + 0.2)
    assert client.get("/api/v1/referrals", headers=bearer).status_code == 200


def test_user_limit_counts_a_signed_in_user_across_endpoints(tiny_app, world):
    client = tiny_app(RATE_LIMIT_PER_USER="3 per 5 seconds").test_client()
    assert login(client, "navigator@a.test").status_code == 302
    assert client.get("/api/v1/referrals").status_code == 200
    assert client.get("/api/v1/students").status_code == 200
    assert client.get("/api/v1/escalations").status_code == 200
    refused = client.get("/api/v1/referrals")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert client.get("/students").status_code == 200  # pages for people are not limited
    other = tiny_app(RATE_LIMIT_PER_USER="3 per 5 seconds").test_client()
    login(other, "navigator@b.test")
    assert other.get("/api/v1/referrals").status_code == 200  # another user's own budget


def test_admins_see_requests_and_refusals_per_client(tiny_app, world, sync, login_as, redis_client):
    client = tiny_app(RATE_LIMIT_PER_CLIENT="3 per 5 seconds").test_client()
    bearer = {"Authorization": f"Bearer {_token(client, sync)}"}
    _until_refused(client, "/api/v1/referrals", bearer)
    page = login_as("district_admin@a.test").get(f"/admin/apps/{sync.client_id}").text
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"<td>{today}</td><td>5</td><td>1</td>" in page  # the token, 3 calls, 1 refused


def test_a_stranger_naming_a_client_cannot_spend_its_budget(tiny_app, world, sync, login_as):
    """Token-endpoint requests name their client before it is verified: failed attempts from
    another address are limited there, and neither throttle nor count as the partner's."""
    app = tiny_app(RATE_LIMIT_PER_CLIENT="3 per 10 seconds")
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    wrong = base64.b64encode(f"{sync.client_id}:not-the-secret".encode()).decode()
    statuses = [
        stranger.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {wrong}"},
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {_token(client, sync)}"}
    assert client.get("/api/v1/referrals", headers=bearer).status_code == 200
    page = login_as("district_admin@a.test").get(f"/admin/apps/{sync.client_id}").text
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"<td>{today}</td><td>2</td><td>0</td>" in page  # its own token and call only


def test_limits_fall_back_to_memory_when_redis_is_down(tiny_app, world):
    """Counters are not records: with the limiter's Redis unreachable the API still answers,
    and the limit still holds, counted in memory."""
    down = tiny_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", RATE_LIMIT_PER_USER="2/minute")
    client = down.test_client()
    login(client, "navigator@a.test")
    statuses = [client.get("/api/v1/referrals").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
