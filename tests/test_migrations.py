"""Migrations: they build exactly the models' schema, and go down to nothing and up again."""

from __future__ import annotations

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import baton.platform.models  # noqa: F401  - every model on db.metadata
from baton.platform.app import create_app
from baton.platform.extensions import db
from tests.conftest import PG_HOST, base_config, create_database, drop_database

MODEL_TABLES = {t.name for t in db.metadata.sorted_tables}


def _diff(connection) -> list:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, db.metadata)


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def _head(app) -> str:
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _down_and_up(app) -> None:
    """Upgrade to head, downgrade to base, upgrade again, checking the schema each time."""
    with app.app_context():
        try:
            flask_migrate.upgrade()
            assert _tables(app) == MODEL_TABLES | {"alembic_version"}
            head = _head(app)
            assert head is not None

            flask_migrate.downgrade(revision="base")
            assert _tables(app) == {"alembic_version"}
            assert _head(app) is None

            flask_migrate.upgrade()
            assert _tables(app) == MODEL_TABLES | {"alembic_version"}
            assert _head(app) == head
            with db.engine.connect() as conn:
                assert _diff(conn) == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_the_suites_database_matches_the_models(database, owner_engine):
    with owner_engine.connect() as conn:
        assert _diff(conn) == []


def test_postgresql_downgrades_to_nothing_and_upgrades_again(database):
    name = create_database("baton_migrations")
    try:
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=f"{PG_HOST}/{name}"))
        _down_and_up(app)
        # The downgrade also removed what autogenerate cannot see: policies and the function.
        app_check = create_app(base_config(SQLALCHEMY_DATABASE_URI=f"{PG_HOST}/{name}"))
        with app_check.app_context():
            try:
                flask_migrate.downgrade(revision="base")
                with db.engine.connect() as conn:
                    policies = conn.execute(text("SELECT count(*) FROM pg_policies")).scalar()
                    functions = conn.execute(
                        text("SELECT count(*) FROM pg_proc WHERE proname = 'baton_tenant_visible'")
                    ).scalar()
                assert (policies, functions) == (0, 0)
            finally:
                db.engine.dispose()
    finally:
        drop_database(name)


def test_sqlite_downgrades_to_nothing_and_upgrades_again(tmp_path):
    path = tmp_path / "migrations.db"
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"))
    _down_and_up(app)
    assert path.exists()
