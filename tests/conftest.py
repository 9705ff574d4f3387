"""Fixtures: a throwaway PostgreSQL database migrated as its owner, the app connected as the
RLS-bound app role, Redis on its standard port, and a two-district world to test against."""

from __future__ import annotations

import os
import re
import secrets
from types import SimpleNamespace

import flask_migrate
import pytest
import redis as redis_lib
from sqlalchemy import create_engine

from baton.platform.app import create_app
from baton.platform.extensions import db

PG_HOST = os.environ.get("BATON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BATON_TEST_REDIS", "redis://127.0.0.1:6379/13")
APP_LOGIN_ROLE = "baton_app_test"
PASSWORD = "correct-horse-battery-staple"


def admin_sql(*statements: str) -> None:
    """Run cluster-level statements (databases, roles) as the postgres superuser."""
    engine = create_engine(f"{PG_HOST}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def create_database(prefix: str = "baton_test") -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin_sql(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_config(**extra) -> dict:
    return {
        "BATON_ENV": "test",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "PASSWORD_HASHING": "cheap",
        "REDIS_URL": REDIS_URL,
        **extra,
    }


@pytest.fixture(scope="session")
def database():
    """A fresh database migrated to head by its owner; the app logs in as a baton_app member."""
    name = create_database()
    yield migrate_database(name)
    drop_database(name)


def migrate_database(name: str) -> SimpleNamespace:
    """Migrate ``name`` to head as its owner; the URLs to reach it as owner and as the app."""
    owner_url = f"{PG_HOST}/{name}"
    migrator = create_app(base_config(SQLALCHEMY_DATABASE_URI=owner_url))
    with migrator.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    admin_sql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_LOGIN_ROLE}')"
        f" THEN CREATE ROLE {APP_LOGIN_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$",
        f"GRANT baton_app TO {APP_LOGIN_ROLE}",
    )
    app_url = PG_HOST.replace("postgres@", f"{APP_LOGIN_ROLE}@") + f"/{name}"
    return SimpleNamespace(name=name, owner_url=owner_url, app_url=app_url)


@pytest.fixture(scope="session")
def app(database):
    app = create_app(
        base_config(
            SQLALCHEMY_DATABASE_URI=database.app_url, MIGRATE_DATABASE_URL=database.owner_url
        )
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(database):
    engine = create_engine(database.owner_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request, owner_engine):
    """Every test starts from empty tables (truncated by the owner, so audit rows go too)."""
    yield
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    with owner_engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
def redis_client():
    client = redis_lib.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def login_as(app):
    """login_as(email) -> a test client signed in as that user."""

    def _login(email: str):
        c = app.test_client()
        response = login(c, email)
        assert response.status_code == 302, response.text
        return c

    return _login


@pytest.fixture
def world(app):
    """Two districts (A, B) in one county, a provider partnered with each, a user for every role."""
    from tests.factories import build_world

    with app.app_context():  # not held open: requests must each get their own context
        return build_world()


class ApiClient:
    """A signed-in test client that sends the session's CSRF token on unsafe methods."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_token(client.get("/login").text)

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, json=None, headers=None, **kw):
        headers = {"X-CSRFToken": self.token, **(headers or {})}
        return self.client.post(url, json=json, headers=headers, **kw)


@pytest.fixture
def api_as(login_as):
    return lambda email: ApiClient(login_as(email))


@pytest.fixture(scope="session")
def live_server(database):
    """The app served on a loopback port in a thread (real HTTP for real client libraries)."""
    from tests.oauth_support import LiveServer

    server = LiveServer(database)
    yield server
    server.close()
