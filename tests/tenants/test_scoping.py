"""The first lock: the session hooks in baton.tenants.scoping, as seen through the ORM.

The app role is also bound by row-level security (tests/tenants/test_rls.py), which would hide
a missing filter on reads; so read tests also check the SQL the hooks sent carries the filter.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from sqlalchemy import and_, delete, event, func, select, text, update

from baton.platform.extensions import db
from baton.platform.models import AuditLog, Caregiver, Partnership, School, Student, Tenant
from baton.platform.services import provisioning as prov
from baton.platform.services.audit import record_audit
from baton.tenants.context import Principal, TenantContextMissing, acting_as, system_scope
from baton.tenants.scoping import AppendOnly, CrossTenantWrite, access, scoped

TENANT_MODELS = (Student, Caregiver, School, Partnership, AuditLog)


def district(world, key: str = "a", role: str = "navigator") -> Principal:
    return Principal(
        kind="district", surface="ui", role=role, tenant_id=getattr(world, f"tenant_{key}").id
    )


def _new_student(school_id: uuid.UUID, local_id: str, **kw) -> Student:
    return Student(
        school_id=school_id,
        local_id=local_id,
        first_name="New",
        last_name="Student",
        birth_date=date(2013, 5, 6),
        grade="7",
        **kw,
    )


def _ids(students) -> set[uuid.UUID]:
    return {s.id for s in students}


def _owner_students(owner_engine) -> dict[str, tuple[uuid.UUID, str]]:
    with owner_engine.connect() as conn:
        rows = conn.execute(text("SELECT local_id, tenant_id, grade FROM students"))
        return {local_id: (tenant_id, grade) for local_id, tenant_id, grade in rows}


@pytest.fixture
def sql_log(app):
    """(statement, parameters) of everything the app's engine sends during the test."""
    log: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        log.append((statement, parameters if isinstance(parameters, dict) else {}))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield log
    event.remove(engine, "before_cursor_execute", record)


def assert_filtered(log, table: str, tenant_id: uuid.UUID) -> None:
    """Every statement on ``table`` carried ``table.tenant_id = <tenant_id>`` itself."""
    hits = [(s, p) for s, p in log if re.search(rf"\b(FROM|UPDATE|JOIN) {table}\b", s)]
    assert hits, f"no statement on {table}"
    for statement, params in hits:
        assert f"{table}.tenant_id = %(" in statement, statement
        assert tenant_id in params.values(), (statement, params)


# -- no principal -------------------------------------------------------------------------


NO_PRINCIPAL_STATEMENTS = {
    "bare select": lambda: select(Student),
    "column select": lambda: select(Student.last_name),
    "join": lambda: select(Caregiver).join(Student),
    "bulk update": lambda: update(Student).values(grade="1"),
    "bulk delete": lambda: delete(Caregiver),
}


def test_tenant_tables_refuse_queries_without_a_principal(app, world, owner_engine):
    with app.app_context():
        for label, statement in NO_PRINCIPAL_STATEMENTS.items():
            with pytest.raises(TenantContextMissing):
                db.session.execute(statement())
                pytest.fail(f"{label} ran without a principal")
            db.session.rollback()
    students = _owner_students(owner_engine)
    assert {t for t, _ in students.values()} == {world.tenant_a.id, world.tenant_b.id}
    assert {g for _, g in students.values()} == {"8"}  # the bulk update changed nothing


def test_helpers_refuse_to_run_without_a_principal(app, world):
    with app.app_context():
        with pytest.raises(TenantContextMissing):
            scoped(Student)
        with pytest.raises(TenantContextMissing):
            access(db.session, Student, world.students_a[0].id)


def test_aggregate_without_a_principal_fails_closed(app, world, sql_log):
    """A count over select_from() is not recognised as touching Student (no error), but the
    hook still adds a false criterion, so it counts nothing even without the database's help."""
    with app.app_context():
        try:
            count = db.session.scalar(select(func.count()).select_from(Student))
        except TenantContextMissing:
            return
        assert count == 0
    (statement,) = [s for s, _ in sql_log if "FROM students" in s]
    assert statement.rstrip().endswith("WHERE false")


def test_untenanted_tables_need_no_principal(app, world):
    with app.app_context():
        slugs = set(db.session.scalars(select(Tenant.slug)))
    assert slugs == {"district-a", "district-b"}


# -- a district principal -----------------------------------------------------------------


def test_bare_select_returns_only_the_acting_districts_students(app, world, sql_log):
    with app.app_context(), acting_as(district(world, "a")):
        students = db.session.scalars(select(Student)).all()
        assert _ids(students) == _ids(world.students_a)
        assert db.session.scalar(select(func.count()).select_from(Student)) == 2
        assert db.session.scalar(select(func.count(Student.id))) == 2
    assert_filtered(sql_log, "students", world.tenant_a.id)

    with app.app_context(), acting_as(district(world, "b")):
        assert _ids(db.session.scalars(select(Student))) == _ids(world.students_b)


def test_join_is_filtered_on_both_sides(app, world, sql_log):
    with app.app_context(), acting_as(district(world, "a")):
        rows = db.session.execute(
            select(Caregiver.name, Student.id).join(
                Student,
                and_(Student.tenant_id == Caregiver.tenant_id, Student.id == Caregiver.student_id),
            )
        ).all()
        # A join condition that ignores tenants would pair across districts without the hook.
        loose = db.session.execute(
            select(Caregiver.tenant_id, Student.tenant_id).join(
                Student, Student.last_name != Caregiver.name
            )
        ).all()
    assert {name for name, _ in rows} == {f"Caregiver-of-{s.first_name}" for s in world.students_a}
    assert {sid for _, sid in rows} == _ids(world.students_a)
    assert loose
    assert {tuple(pair) for pair in loose} == {(world.tenant_a.id, world.tenant_a.id)}
    assert_filtered(sql_log, "caregivers", world.tenant_a.id)
    assert_filtered(sql_log, "students", world.tenant_a.id)


def test_relationship_loads_are_filtered(app, world):
    with app.app_context(), acting_as(district(world, "a")):
        student = db.session.scalars(select(Student).limit(1)).one()
        assert [c.tenant_id for c in student.caregivers] == [world.tenant_a.id]
        assert student.school.name == world.school_a.name


def test_subquery_is_filtered(app, world, sql_log):
    with app.app_context(), acting_as(district(world, "a")):
        inner = select(Student.id).subquery()
        assert db.session.scalar(select(func.count()).select_from(inner)) == 2
    assert_filtered(sql_log, "students", world.tenant_a.id)


def test_scoped_and_access_respect_the_acting_district(app, world, sql_log):
    own, foreign = world.students_a[0], world.students_b[0]
    with app.app_context(), acting_as(district(world, "a")):
        assert _ids(db.session.scalars(scoped(Student))) == _ids(world.students_a)
        assert _ids(db.session.scalars(scoped(School))) == {world.school_a.id}

        found = access(db.session, Student, own.id)
        assert found is not None
        assert found.last_name == own.last_name
        assert access(db.session, Student, str(own.id)).id == own.id

        assert access(db.session, Student, foreign.id) is None
        assert access(db.session, Student, str(foreign.id)) is None
        assert access(db.session, Student, uuid.uuid4()) is None
        assert access(db.session, Student, "not-a-uuid") is None
        assert access(db.session, Student, None) is None
        # Not even the identity map leaks it: a row loaded elsewhere stays out of reach.
        assert db.session.get(Student, (world.tenant_b.id, foreign.id)) is None
    assert_filtered(sql_log, "students", world.tenant_a.id)
    assert_filtered(sql_log, "schools", world.tenant_a.id)


def test_bulk_update_touches_only_the_acting_districts_rows(app, world, sql_log):
    with app.app_context():
        with acting_as(district(world, "a")):
            result = db.session.execute(update(Student).values(grade="12"))
            assert result.rowcount == 2
            db.session.commit()
        assert_filtered(sql_log, "students", world.tenant_a.id)
        with system_scope("test: verify bulk update"):
            grades = dict(db.session.execute(select(Student.local_id, Student.grade)).all())
    assert grades == {
        **{s.local_id: "12" for s in world.students_a},
        **{s.local_id: "8" for s in world.students_b},
    }


def test_bulk_delete_touches_only_the_acting_districts_rows(app, world, sql_log):
    with app.app_context():
        with acting_as(district(world, "a")):
            result = db.session.execute(delete(Caregiver))
            assert result.rowcount == 2
            db.session.commit()
        assert_filtered(sql_log, "caregivers", world.tenant_a.id)
        with system_scope("test: verify bulk delete"):
            left = set(db.session.scalars(select(Caregiver.tenant_id)))
    assert left == {world.tenant_b.id}


def test_adding_a_row_for_another_district_fails_at_flush(app, world, owner_engine):
    with app.app_context(), acting_as(district(world, "a")):
        db.session.add(
            _new_student(world.school_b.id, "SNEAK-1", tenant_id=world.tenant_b.id),
        )
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    assert "SNEAK-1" not in _owner_students(owner_engine)


def test_a_new_row_without_tenant_is_stamped_with_the_acting_district(app, world, owner_engine):
    with app.app_context(), acting_as(district(world, "a")):
        student = _new_student(world.school_a.id, "STAMPED-1")
        db.session.add(student)
        db.session.flush()
        assert student.tenant_id == world.tenant_a.id
        db.session.commit()
    assert _owner_students(owner_engine)["STAMPED-1"] == (world.tenant_a.id, "7")


def test_moving_a_row_to_another_district_fails_at_flush(app, world, owner_engine):
    with app.app_context(), acting_as(district(world, "a")):
        student = access(db.session, Student, world.students_a[0].id)
        student.tenant_id = world.tenant_b.id
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    assert _owner_students(owner_engine)[world.students_a[0].local_id][0] == world.tenant_a.id


def test_rows_written_inside_a_scope_are_checked_as_it_ends(app, world, owner_engine):
    """Leaving a scope flushes, so a row added in it is judged by that scope, not a later one."""
    with app.app_context():
        with pytest.raises(CrossTenantWrite), acting_as(district(world, "a")):
            db.session.add(_new_student(world.school_b.id, "LATE-1", tenant_id=world.tenant_b.id))
        db.session.rollback()
    assert "LATE-1" not in _owner_students(owner_engine)


def _one_audit_row(world) -> uuid.UUID:
    with acting_as(district(world, "a")) as principal:
        row = record_audit("read", "student", world.students_a[0].id, principal=principal)
        db.session.commit()
        return row.id


def _audit_action(owner_engine, row_id: uuid.UUID) -> str | None:
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT action FROM audit_log WHERE id = :id"), {"id": row_id}
        ).scalar_one_or_none()


def test_changing_an_audit_row_is_refused(app, world, owner_engine):
    with app.app_context():
        row_id = _one_audit_row(world)
        with acting_as(district(world, "a")):
            row = access(db.session, AuditLog, row_id)
            assert row is not None
            row.action = "tampered"
            with pytest.raises(AppendOnly):
                db.session.flush()
            db.session.rollback()
    assert _audit_action(owner_engine, row_id) == "read"


def test_deleting_an_audit_row_is_refused(app, world, owner_engine):
    with app.app_context():
        row_id = _one_audit_row(world)
        with system_scope("test: try to delete an audit row"):
            row = db.session.scalars(select(AuditLog).where(AuditLog.id == row_id)).one()
            db.session.delete(row)
            with pytest.raises(AppendOnly):
                db.session.flush()
            db.session.rollback()
    assert _audit_action(owner_engine, row_id) == "read"


# -- other kinds of principal -------------------------------------------------------------


def test_system_scope_sees_every_district(app, world):
    with app.app_context(), system_scope("test: everything"):
        students = db.session.scalars(select(Student)).all()
        tenants = set(db.session.scalars(select(School.tenant_id)))
    assert _ids(students) == _ids(world.students_a) | _ids(world.students_b)
    assert tenants == {world.tenant_a.id, world.tenant_b.id}


def test_county_principal_sees_no_tenant_rows(app, world, sql_log):
    commissioner = Principal(
        kind="county", surface="ui", role="commissioner", county_id=world.county.id
    )
    with app.app_context(), acting_as(commissioner):
        for model in TENANT_MODELS:
            assert db.session.scalars(select(model)).all() == [], model.__name__
        # Tables outside tenancy stay readable.
        assert len(db.session.scalars(select(Tenant)).all()) == 2
    for model in TENANT_MODELS:  # refused by the hook itself, not only by the database
        statements = [s for s, _ in sql_log if f"FROM {model.__tablename__}" in s]
        assert statements
        assert all(s.rstrip().endswith("WHERE false") for s in statements), statements


def test_provider_principal_sees_only_its_own_partnership_and_no_students(app, world, sql_log):
    with app.app_context():
        # A second partnership in district A, with the other provider, must stay hidden.
        with system_scope("test: second partnership in A"):
            prov.create_partnership(
                prov.tenant_by_slug("district-a"),
                prov.provider_by_slug("pb"),
                start=date(2025, 9, 1),
            )
            db.session.commit()
        intake = Principal(
            kind="provider",
            surface="ui",
            role="provider_intake",
            provider_id=world.pa.id,
            partner_tenant_ids=frozenset({world.tenant_a.id}),
        )
        with acting_as(intake):
            partnerships = db.session.scalars(select(Partnership)).all()
            assert [(p.tenant_id, p.provider_id) for p in partnerships] == [
                (world.tenant_a.id, world.pa.id)
            ]
            assert db.session.scalars(select(Student)).all() == []
            assert db.session.scalars(select(Caregiver)).all() == []
            assert access(db.session, Student, world.students_a[0].id) is None
        partnership_sql = [s for s, _ in sql_log if "FROM partnerships" in s]
        assert "partnerships.provider_id = %(" in partnership_sql[-1]
        with system_scope("test: count partnerships"):
            assert db.session.scalar(select(func.count()).select_from(Partnership)) == 3


def test_provider_cannot_write_into_a_non_partner_district(app, world, owner_engine):
    intake = Principal(
        kind="provider",
        surface="ui",
        role="provider_intake",
        provider_id=world.pa.id,
        partner_tenant_ids=frozenset({world.tenant_a.id}),
    )
    with app.app_context(), acting_as(intake):
        db.session.add(_new_student(world.school_b.id, "PROV-1", tenant_id=world.tenant_b.id))
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    assert "PROV-1" not in _owner_students(owner_engine)
