"""Configuration: defaults, then conventional env vars, then BATON_* vars, then overrides."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEV_ENVIRONMENTS = {"development", "test"}


class ConfigError(RuntimeError):
    """The app refuses to start with this configuration."""


def defaults(instance_path: str) -> dict:
    return {
        "BATON_ENV": "development",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'baton.db'}",
        "REDIS_URL": None,  # None: jobs run in-process (the embedded default)
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "baton_session",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCKOUT_SECONDS": 15 * 60,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # The public address of this deployment: links in e-mails, the OAuth token URL
        # (every client assertion's audience) and the FHIR base URL derive from it.
        "BASE_URL": "http://127.0.0.1:5000",
        # Canonical base of Baton's FHIR code systems and identifier systems: fixed once a
        # partner is live (fhir-profile.md), independent of where the server runs.
        "FHIR_CANONICAL_BASE": "https://fhir.baton.example",
        "IDEMPOTENCY_TTL_HOURS": 24,  # how long an Idempotency-Key is remembered, at least
    }


def normalise_database_url(url: str) -> str:
    """Hosting platforms say postgres:// or postgresql://; we speak psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def from_environment(environ=os.environ) -> dict:
    values = {}
    if environ.get("DATABASE_URL"):
        values["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    # BATON_ENV by its full name: from_prefixed_env("BATON") would store it as plain "ENV".
    for name in ("REDIS_URL", "SECRET_KEY", "BATON_ENV", "MAIL_SERVER", "MAIL_PORT"):
        if environ.get(name):
            values[name] = environ[name]
    return values


def finalise(config, instance_path: str) -> None:
    """Check the assembled config; in production refuse a default or missing secret."""
    env = config.get("BATON_ENV", "development")
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    if env not in DEV_ENVIRONMENTS:
        key = config.get("SECRET_KEY")
        if not key or len(key) < 32 or key.startswith("dev"):
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        if config.get("PASSWORD_HASHING") == "cheap":
            raise ConfigError("cheap password hashing is for the test suite only")
        config["SESSION_COOKIE_SECURE"] = True
        return
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(Path(instance_path))


def _instance_secret(instance: Path) -> str:
    """A random per-checkout key for the demo, kept out of the repository."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
