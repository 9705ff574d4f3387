"""Configuration: what production refuses, how URLs are read, the embedded default; probes."""

from __future__ import annotations

import os
import secrets
import stat

import pytest

from baton.platform.app import create_app
from baton.platform.config import ConfigError, from_environment, normalise_database_url
from baton.platform.extensions import db
from tests.conftest import base_config

STRONG_KEY = "k" + secrets.token_urlsafe(40)


@pytest.fixture
def environ(monkeypatch, tmp_path):
    """A process environment with no Baton settings, the instance folder in tmp_path."""
    for name in list(os.environ):
        if name.startswith("BATON_") or name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BATON_INSTANCE_PATH", str(tmp_path))
    return monkeypatch


def _started(app) -> dict:
    config = dict(app.config)
    with app.app_context():
        db.engine.dispose()
    return config


# -- production refuses weak settings ------------------------------------------------------


def test_production_refuses_a_weak_secret_key(environ, tmp_path):
    environ.setenv("BATON_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()  # missing
    for weak in ("", "a" * 31, "dev-" + secrets.token_urlsafe(40)):
        environ.setenv("SECRET_KEY", weak)
        with pytest.raises(ConfigError, match="SECRET_KEY"):
            create_app()
    assert not (tmp_path / "secret_key").exists()  # no made-up key to fall back on


def test_production_starts_with_a_strong_key_and_secure_cookies(environ, tmp_path):
    environ.setenv("BATON_ENV", "production")
    environ.setenv("SECRET_KEY", STRONG_KEY)
    config = _started(create_app())
    assert config["SECRET_KEY"] == STRONG_KEY
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert not (tmp_path / "secret_key").exists()


def test_production_accepts_a_key_of_exactly_32_characters(environ):
    environ.setenv("BATON_ENV", "production")
    environ.setenv("SECRET_KEY", "k" * 32)
    assert _started(create_app())["SESSION_COOKIE_SECURE"] is True


def test_production_refuses_cheap_password_hashing(environ):
    environ.setenv("BATON_ENV", "production")
    environ.setenv("SECRET_KEY", STRONG_KEY)
    environ.setenv("BATON_PASSWORD_HASHING", "cheap")
    with pytest.raises(ConfigError, match="cheap"):
        create_app()


def test_overrides_are_checked_like_the_environment(environ):
    with pytest.raises(ConfigError):
        create_app({"BATON_ENV": "production", "SECRET_KEY": "short"})


# -- database URLs ------------------------------------------------------------------------


DATABASE_URLS = {
    "postgres://u:p@db:5432/baton": "postgresql+psycopg://u:p@db:5432/baton",
    "postgresql://u:p@db:5432/baton": "postgresql+psycopg://u:p@db:5432/baton",
    "postgresql+psycopg://u:p@db/baton": "postgresql+psycopg://u:p@db/baton",
    "sqlite:////srv/baton.db": "sqlite:////srv/baton.db",
}


def test_database_url_speaks_psycopg_3():
    for given, expected in DATABASE_URLS.items():
        assert from_environment({"DATABASE_URL": given}) == {"SQLALCHEMY_DATABASE_URI": expected}
        assert normalise_database_url(given) == expected


def test_from_environment_reads_only_what_is_set():
    assert from_environment({}) == {}
    assert from_environment({"DATABASE_URL": "", "SECRET_KEY": ""}) == {}
    values = from_environment(
        {"REDIS_URL": "redis://r:6379/0", "SECRET_KEY": "s", "BATON_ENV": "production", "X": "x"}
    )
    assert values == {
        "REDIS_URL": "redis://r:6379/0",
        "SECRET_KEY": "s",
        "BATON_ENV": "production",
    }


def test_app_normalises_database_url_from_the_environment(environ):
    environ.setenv("DATABASE_URL", "postgres://u:p@db:5432/baton")
    assert _started(create_app())["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://u:p@db:5432/baton"
    )


# -- the embedded default -----------------------------------------------------------------


def test_with_nothing_set_the_database_is_a_sqlite_file_in_the_instance_folder(environ, tmp_path):
    config = _started(create_app())
    assert config["BATON_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'baton.db'}"
    assert config["REDIS_URL"] is None
    assert not config.get("SESSION_COOKIE_SECURE")

    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == config["SECRET_KEY"]
    assert len(config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The same key on the next start: sessions survive a restart.
    assert _started(create_app())["SECRET_KEY"] == config["SECRET_KEY"]


# -- probes -------------------------------------------------------------------------------


def test_health_and_readiness_answer_json(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.is_json
        assert response.get_json() == {"status": "ok"}
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_readiness_fails_when_the_database_is_unreachable():
    app = create_app(
        base_config(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:9/nowhere")
    )
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    finally:
        with app.app_context():
            db.engine.dispose()
