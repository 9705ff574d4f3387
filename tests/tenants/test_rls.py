"""The second lock: PostgreSQL row-level security, exercised with raw SQL as the app role.

No ORM and no scoping hooks here: these connections are what a forgotten ``WHERE`` (or a
hand-written query) would get, so they prove the database itself keeps the tenants apart.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

TABLES = ("students", "caregivers", "schools", "partnerships", "audit_log")


@pytest.fixture(scope="module")
def app_engine(database):
    """A plain engine logged in as the RLS-bound app role (what the app itself uses)."""
    engine = create_engine(database.app_url)
    yield engine
    engine.dispose()


@pytest.fixture
def audited_world(world, owner_engine):
    """The world plus one audit row in each district, written by the owner."""
    with owner_engine.begin() as conn:
        for tenant in (world.tenant_a, world.tenant_b):
            conn.execute(
                text(
                    "INSERT INTO audit_log (id, tenant_id, at, actor_kind, acting_for, surface,"
                    " action, object_type, detail)"
                    " VALUES (:id, :tenant, now(), 'system', 'system:test', 'job', 'read',"
                    " 'student', '{}')"
                ),
                {"id": uuid.uuid4(), "tenant": tenant.id},
            )
    return world


def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _tenant_ids(conn, table: str) -> set[uuid.UUID]:
    return set(conn.execute(text(f"SELECT DISTINCT tenant_id FROM {table}")).scalars())


def _audit_rows(owner_engine) -> set[tuple]:
    with owner_engine.connect() as conn:
        return {tuple(r) for r in conn.execute(text("SELECT id, action, tenant_id FROM audit_log"))}


def _act_as_tenants(conn, *tenant_ids: uuid.UUID) -> None:
    conn.execute(
        text("SELECT set_config('baton.tenant_ids', :ids, true)"),
        {"ids": ",".join(str(t) for t in tenant_ids)},
    )


def _insert_student(conn, tenant_id: uuid.UUID, school_id: uuid.UUID, local_id: str) -> None:
    conn.execute(
        text(
            "INSERT INTO students (tenant_id, id, local_id, first_name, last_name, birth_date,"
            " grade, school_id, preferred_language, disability_or_iep, created_at, updated_at)"
            " VALUES (:tenant, :id, :local, 'Raw', 'Insert', :born, '5', :school, 'en', false,"
            " now(), now())"
        ),
        {
            "tenant": tenant_id,
            "id": uuid.uuid4(),
            "local": local_id,
            "born": date(2014, 1, 1),
            "school": school_id,
        },
    )


def test_without_tenant_setting_the_app_role_sees_no_tenant_rows(
    audited_world, app_engine, owner_engine
):
    with owner_engine.connect() as conn:
        owner_counts = _counts(conn)
    assert all(n > 0 for n in owner_counts.values()), owner_counts

    with app_engine.connect() as conn:
        assert _counts(conn) == dict.fromkeys(TABLES, 0)


def test_tenant_setting_shows_only_that_tenants_rows(audited_world, app_engine, owner_engine):
    a, b = audited_world.tenant_a.id, audited_world.tenant_b.id
    with app_engine.begin() as conn:
        _act_as_tenants(conn, a)
        for table in TABLES:
            assert _tenant_ids(conn, table) == {a}, table
        names = set(conn.execute(text("SELECT last_name FROM students")).scalars())
        assert names == {s.last_name for s in audited_world.students_a}

    with owner_engine.connect() as conn:  # B's rows exist, they were just not visible
        for table in TABLES:
            assert {a, b} <= _tenant_ids(conn, table), table


def test_tenant_setting_is_local_to_its_transaction(audited_world, app_engine):
    with app_engine.connect() as conn:
        with conn.begin():
            _act_as_tenants(conn, audited_world.tenant_a.id)
            assert _counts(conn)["students"] == 2
        # same connection, next transaction: the setting is gone, so is the visibility
        with conn.begin():
            assert _counts(conn)["students"] == 0


def test_system_setting_sees_every_tenant(audited_world, app_engine):
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('baton.system', 'on', true)"))
        assert _tenant_ids(conn, "students") == {
            audited_world.tenant_a.id,
            audited_world.tenant_b.id,
        }


def test_insert_into_another_tenant_violates_row_level_security(world, app_engine, owner_engine):
    a, b = world.tenant_a.id, world.tenant_b.id
    with app_engine.connect() as conn:
        # Control: the same insert into the acting tenant is accepted.
        with conn.begin() as tx:
            _act_as_tenants(conn, a)
            _insert_student(conn, a, world.school_a.id, "A-RAW-1")
            tx.rollback()
        with pytest.raises(ProgrammingError, match="row-level security"), conn.begin():
            _act_as_tenants(conn, a)
            _insert_student(conn, b, world.school_b.id, "B-RAW-1")

    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM students WHERE local_id IN ('A-RAW-1', 'B-RAW-1')")
            ).scalar_one()
            == 0
        )


def test_update_cannot_reach_or_move_rows_across_tenants(world, app_engine, owner_engine):
    a, b = world.tenant_a.id, world.tenant_b.id
    with app_engine.connect() as conn:
        with conn.begin():
            _act_as_tenants(conn, a)
            touched = conn.execute(text("UPDATE students SET grade = '12'")).rowcount
        assert touched == 2
        with pytest.raises(ProgrammingError, match="row-level security"), conn.begin():
            _act_as_tenants(conn, a)
            conn.execute(
                text("UPDATE caregivers SET tenant_id = :b WHERE tenant_id = :a"),
                {"a": a, "b": b},
            )

    with owner_engine.connect() as conn:
        grades = dict(
            conn.execute(
                text("SELECT tenant_id, array_agg(DISTINCT grade) FROM students GROUP BY 1")
            ).all()
        )
        assert grades == {a: ["12"], b: ["8"]}


def test_app_role_cannot_change_or_remove_audit_rows(audited_world, app_engine, owner_engine):
    before = _audit_rows(owner_engine)
    assert before
    for statement in (
        "UPDATE audit_log SET action = 'tampered'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        denied = pytest.raises(ProgrammingError, match="permission denied for table audit_log")
        with denied, app_engine.begin() as conn:
            conn.execute(text("SELECT set_config('baton.system', 'on', true)"))
            conn.execute(text(statement))

    assert _audit_rows(owner_engine) == before


def test_app_role_can_append_audit_rows_for_its_tenant_only(world, app_engine, owner_engine):
    a, b = world.tenant_a.id, world.tenant_b.id
    insert = text(
        "INSERT INTO audit_log (id, tenant_id, at, actor_kind, acting_for, surface, action,"
        " object_type, detail) VALUES (:id, :tenant, now(), 'district', 'district:x', 'ui',"
        " :action, 'student', '{}')"
    )
    with app_engine.connect() as conn:
        with conn.begin():
            _act_as_tenants(conn, a)
            conn.execute(insert, {"id": uuid.uuid4(), "tenant": a, "action": "own-tenant"})
            conn.execute(insert, {"id": uuid.uuid4(), "tenant": None, "action": "no-tenant"})
        with pytest.raises(ProgrammingError, match="row-level security"), conn.begin():
            _act_as_tenants(conn, a)
            conn.execute(insert, {"id": uuid.uuid4(), "tenant": b, "action": "other-tenant"})

    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, tenant_id FROM audit_log"
                " WHERE action IN ('own-tenant', 'no-tenant', 'other-tenant')"
            )
        )
        assert {tuple(r) for r in rows} == {("own-tenant", a), ("no-tenant", None)}


def test_app_login_role_is_bound_by_row_level_security(database, app_engine):
    with app_engine.connect() as conn:
        role = conn.execute(
            text(
                "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        owned = conn.execute(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                " AND tableowner = current_user"
            )
        ).scalar_one()
        forced_or_enabled = dict(
            conn.execute(
                text(
                    "SELECT relname, relrowsecurity FROM pg_class"
                    " WHERE relname IN ('students', 'caregivers', 'schools', 'partnerships',"
                    " 'audit_log')"
                )
            ).all()
        )
    assert role.rolname == "baton_app_test"
    assert database.app_url.split("//")[1].startswith("baton_app_test@")
    assert role.rolsuper is False
    assert role.rolbypassrls is False
    assert owned == 0  # table owners bypass their own policies; the app owns nothing
    assert forced_or_enabled == dict.fromkeys(TABLES, True)
