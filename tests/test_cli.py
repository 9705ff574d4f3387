"""The ``baton`` console script, run as a real subprocess against the suite's database."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD, login

BATON = Path(sys.executable).parent / "baton"
SEED_TABLES = (
    "counties",
    "tenants",
    "schools",
    "provider_orgs",
    "services",
    "partnerships",
    "users",
    "memberships",
    "students",
    "caregivers",
)


@pytest.fixture
def cli_env(database, tmp_path) -> dict[str, str]:
    """The environment of a deployment: the app role's URL, a random secret, no other BATON_*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATON_") and k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL")
    }
    return env | {
        "DATABASE_URL": database.app_url,
        "BATON_ENV": "test",
        "SECRET_KEY": secrets.token_urlsafe(30),  # 40 characters
        "BATON_PASSWORD_HASHING": "cheap",
        "BATON_INSTANCE_PATH": str(tmp_path / "instance"),
    }


@pytest.fixture
def baton_many(cli_env, tmp_path):
    """baton_many({label: (args, extra_env)}) -> {label: CompletedProcess}, run side by side."""

    def run(commands: dict[str, tuple[tuple[str, ...], dict[str, str]]]) -> dict:
        started = {
            label: subprocess.Popen(
                [str(BATON), *args],
                env=cli_env | extra_env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for label, (args, extra_env) in commands.items()
        }
        results = {}
        for label, process in started.items():
            stdout, stderr = process.communicate(timeout=60)
            results[label] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
        return results

    return run


@pytest.fixture
def baton(baton_many):
    """baton(*args) -> CompletedProcess."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return baton_many({"one": (args, {})})["one"]

    return run


def owner_scalar(owner_engine, sql: str, **params):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_create_county_is_idempotent(baton, owner_engine):
    first = baton("create-county", "Lake County", "--slug", "lake-county")
    assert first.returncode == 0, first.stderr
    assert "created county lake-county" in first.stdout

    second = baton("create-county", "Lake County", "--slug", "lake-county")
    assert second.returncode == 0, second.stderr
    assert "exists" in second.stdout
    assert owner_scalar(owner_engine, "SELECT count(*) FROM counties") == 1


USER_ARGS = ("create-user", "new@a.test", "--name", "New", "--role", "navigator")
BAD_INPUT = {
    # label: (arguments, extra environment, what stderr must say)
    "unknown county": (
        ("create-tenant", "North Lake", "--slug", "north-lake", "--county", "nowhere"),
        {},
        "no county with slug 'nowhere'",
    ),
    "bad slug": (
        ("create-tenant", "Bad", "--slug", "Bad Slug", "--county", "test-county"),
        {},
        "slug must be 2-63 lowercase letters, digits or hyphens",
    ),
    "short password": (
        (*USER_ARGS, "--tenant", "district-a", "--password", "too-short"),
        {},
        "password must be at least 12 characters",
    ),
    "district role without tenant": (
        (*USER_ARGS, "--password", PASSWORD),
        {},
        "role 'navigator' needs exactly one district",
    ),
    "demo data in production": (
        ("seed-demo", "--students", "3"),
        {"BATON_ENV": "production", "BATON_PASSWORD_HASHING": "argon2"},
        "only for development",
    ),
}


def test_bad_input_exits_2_with_a_clear_message_and_changes_nothing(
    baton_many, world, owner_engine
):
    before = _seed_state(owner_engine)
    results = baton_many({label: (args, env) for label, (args, env, _) in BAD_INPUT.items()})
    for label, (_, _, message) in BAD_INPUT.items():
        result = results[label]
        assert result.returncode == 2, (label, result.stdout, result.stderr)
        assert message in result.stderr, (label, result.stderr)
        assert "Traceback" not in result.stderr, label
    assert _seed_state(owner_engine) == before


def test_created_user_can_sign_in(baton, world, client):
    result = baton(
        "create-user",
        "New.Navigator@A.test",
        "--name",
        "New Navigator",
        "--role",
        "navigator",
        "--tenant",
        "district-a",
        "--password",
        PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    assert "created user new.navigator@a.test (navigator)" in result.stdout

    response = login(client, "new.navigator@a.test")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tracker"
    page = client.get("/students")
    assert page.status_code == 200
    assert world.students_a[0].last_name in page.text


def _seed_state(owner_engine) -> dict:
    with owner_engine.connect() as conn:
        state = {
            table: set(conn.execute(text(f"SELECT id FROM {table}")).scalars())
            for table in SEED_TABLES
        }
        roles = set(conn.execute(text("SELECT DISTINCT role FROM memberships")).scalars())
    return state | {"roles": roles}


def test_seed_demo_is_idempotent(baton, owner_engine):
    first = baton("seed-demo", "--students", "12")
    assert first.returncode == 0, first.stderr
    assert "Demo logins" in first.stdout
    after_first = _seed_state(owner_engine)

    assert len(after_first["tenants"]) == 3
    assert len(after_first["schools"]) == 6
    assert len(after_first["provider_orgs"]) == 3
    assert len(after_first["students"]) == 12
    assert len(after_first["caregivers"]) == 12
    assert after_first["roles"] == {
        "referrer",
        "navigator",
        "escalation_lead",
        "district_admin",
        "auditor",
        "provider_intake",
        "provider_admin",
        "commissioner",
    }
    students_per_district = owner_scalar(
        owner_engine,
        "SELECT array_agg(n ORDER BY n) FROM"
        " (SELECT count(*) AS n FROM students GROUP BY tenant_id) per_district",
    )
    assert students_per_district == [4, 4, 4]

    second = baton("seed-demo", "--students", "12")
    assert second.returncode == 0, second.stderr
    assert _seed_state(owner_engine) == after_first
