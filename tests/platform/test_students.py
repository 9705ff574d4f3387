"""Recording students and caregivers through the forms, and the audit trail of reads."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from tests.conftest import csrf_token


@pytest.fixture
def navigator(world, login_as):
    return login_as("navigator@a.test")


def owner_all(owner_engine, sql: str, **params) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def student_form(world, **overrides) -> dict:
    return {
        "local_id": "A-NEW-1",
        "first_name": "Marisol",
        "last_name": "Quintero",
        "birth_date": "2013-04-05",
        "grade": "7",
        "school_id": str(world.school_a.id),
        "preferred_language": "es",
    } | overrides


def post_form(client, url: str, data: dict):
    token = csrf_token(client.get(url).text)
    return client.post(url, data=data | {"csrf_token": token})


def field_errors(page: str, name: str) -> list[str]:
    """The error messages rendered in the same field block as the input called ``name``."""
    for block in re.findall(r'<div class="field[^"]*">(.*?)</div>', page, re.S):
        if re.search(rf'name="{name}"', block):
            return [html.unescape(m) for m in re.findall(r'<p class="error"[^>]*>(.*?)</p>', block)]
    raise AssertionError(f"no field {name!r} on the page")


def students_named(owner_engine, last_name: str) -> list:
    return owner_all(
        owner_engine,
        "SELECT id, tenant_id, local_id FROM students WHERE last_name = :n",
        n=last_name,
    )


def audit_rows(owner_engine, action: str, object_id) -> list:
    return owner_all(
        owner_engine,
        "SELECT action, object_type, surface, actor_user_id, actor_role, tenant_id"
        " FROM audit_log WHERE action = :a AND object_id = :id",
        a=action,
        id=str(object_id),
    )


def user_id(owner_engine, email: str) -> uuid.UUID:
    return owner_all(owner_engine, "SELECT id FROM users WHERE email = :e", e=email)[0].id


# -- students -----------------------------------------------------------------------------


def test_missing_fields_are_reported_next_to_each_field(world, navigator, owner_engine):
    response = post_form(
        navigator,
        "/students/new",
        student_form(world, local_id="", first_name="", last_name="", birth_date=""),
    )
    assert response.status_code == 422
    for name in ("local_id", "first_name", "last_name", "birth_date"):
        assert field_errors(response.text, name), name
    assert field_errors(response.text, "local_id") == ["This field is required."]
    assert field_errors(response.text, "grade") == []
    assert students_named(owner_engine, "Quintero") == []


def test_a_school_of_another_district_is_refused(world, navigator, owner_engine):
    response = post_form(
        navigator, "/students/new", student_form(world, school_id=str(world.school_b.id))
    )
    assert response.status_code == 422
    assert field_errors(response.text, "school_id")
    assert "School-B-Marker" not in response.text
    assert students_named(owner_engine, "Quintero") == []


def test_birth_date_in_the_future_is_refused(world, navigator, owner_engine):
    response = post_form(navigator, "/students/new", student_form(world, birth_date="2999-01-01"))
    assert response.status_code == 422
    assert field_errors(response.text, "birth_date") == ["a date of birth in the past is required"]
    assert students_named(owner_engine, "Quintero") == []


def test_duplicate_local_id_is_reported_on_the_field(world, navigator, owner_engine):
    taken = world.students_a[0].local_id
    response = post_form(navigator, "/students/new", student_form(world, local_id=taken))
    assert response.status_code == 422
    assert field_errors(response.text, "local_id") == ["already used for another student"]
    assert field_errors(response.text, "first_name") == []
    assert students_named(owner_engine, "Quintero") == []


def test_local_ids_are_unique_per_district_only(world, navigator, owner_engine):
    """District B's student number is free for A to use: uniqueness is per district."""
    response = post_form(
        navigator, "/students/new", student_form(world, local_id=world.students_b[0].local_id)
    )
    assert response.status_code == 302
    assert [r.tenant_id for r in students_named(owner_engine, "Quintero")] == [world.tenant_a.id]


def test_valid_student_is_created_in_the_district_and_audited(world, navigator, owner_engine):
    response = post_form(navigator, "/students/new", student_form(world))

    assert response.status_code == 302
    (row,) = students_named(owner_engine, "Quintero")
    assert (row.tenant_id, row.local_id) == (world.tenant_a.id, "A-NEW-1")
    assert urlparse(response.headers["Location"]).path == f"/students/{row.id}"
    navigator_id = user_id(owner_engine, "navigator@a.test")
    assert [tuple(r) for r in audit_rows(owner_engine, "create", row.id)] == [
        ("create", "student", "ui", navigator_id, "navigator", world.tenant_a.id)
    ]


def test_reading_a_student_is_audited(world, navigator, owner_engine):
    student = world.students_a[0]
    assert audit_rows(owner_engine, "read", student.id) == []

    page = navigator.get(f"/students/{student.id}")

    assert page.status_code == 200
    assert student.last_name in page.text
    assert f"Caregiver-of-{student.first_name}" in page.text
    navigator_id = user_id(owner_engine, "navigator@a.test")
    assert [tuple(r) for r in audit_rows(owner_engine, "read", student.id)] == [
        ("read", "student", "ui", navigator_id, "navigator", world.tenant_a.id)
    ]
    navigator.get(f"/students/{student.id}")
    assert len(audit_rows(owner_engine, "read", student.id)) == 2


def test_listing_students_is_audited_with_the_ids_shown(world, navigator, owner_engine):
    assert navigator.get("/students").status_code == 200
    rows = owner_all(
        owner_engine,
        "SELECT tenant_id, detail FROM audit_log WHERE action = 'list' AND object_type = 'student'",
    )
    assert len(rows) == 1
    assert rows[0].tenant_id == world.tenant_a.id
    assert set(rows[0].detail["ids"]) == {str(s.id) for s in world.students_a}


def test_auditor_cannot_open_students(world, login_as, owner_engine):
    auditor = login_as("auditor@a.test")
    assert auditor.get("/students").status_code == 403
    assert auditor.get(f"/students/{world.students_a[0].id}").status_code == 403
    assert audit_rows(owner_engine, "read", world.students_a[0].id) == []


def test_referrer_can_read_but_not_add_students(world, login_as, owner_engine):
    referrer = login_as("referrer@a.test")
    assert referrer.get("/students").status_code == 200
    assert referrer.get("/students/new").status_code == 403
    token = csrf_token(referrer.get("/students").text)
    response = referrer.post("/students/new", data=student_form(world) | {"csrf_token": token})
    assert response.status_code == 403
    assert students_named(owner_engine, "Quintero") == []


# -- caregivers ---------------------------------------------------------------------------


def caregiver_url(student) -> str:
    return f"/students/{student.id}/caregivers/new"


def caregivers_named(owner_engine, name: str) -> list:
    return owner_all(
        owner_engine,
        "SELECT id, tenant_id, student_id, allowed_channels, do_not_call FROM caregivers"
        " WHERE name = :n",
        n=name,
    )


def test_do_not_call_with_phone_channel_is_refused(world, navigator, owner_engine):
    student = world.students_a[0]
    response = post_form(
        navigator,
        caregiver_url(student),
        {
            "name": "Rosa Quintero",
            "relationship_to_student": "parent",
            "phone": "+1-555-0199",
            "preferred_language": "es",
            "allowed_channels": ["phone", "sms"],
            "do_not_call": "y",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "allowed_channels") == [
        "phone cannot be allowed when 'do not call' is set"
    ]
    assert caregivers_named(owner_engine, "Rosa Quintero") == []


def test_caregiver_without_name_is_refused(world, navigator, owner_engine):
    response = post_form(
        navigator,
        caregiver_url(world.students_a[0]),
        {"name": "", "relationship_to_student": "parent", "preferred_language": "en"},
    )
    assert response.status_code == 422
    assert field_errors(response.text, "name") == ["This field is required."]


def test_valid_caregiver_shows_on_the_student_page(world, navigator, owner_engine):
    student = world.students_a[0]
    response = post_form(
        navigator,
        caregiver_url(student),
        {
            "name": "Rosa Quintero",
            "relationship_to_student": "guardian",
            "phone": "+1-555-0199",
            "email": "rosa@example.org",
            "preferred_language": "es",
            "allowed_channels": ["sms", "letter"],
            "safe_times": "weekdays after 6pm",
            "do_not_call": "y",
            "no_voicemail": "y",
        },
    )
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).path == f"/students/{student.id}"

    page = navigator.get(f"/students/{student.id}").text
    assert "Rosa Quintero" in page
    assert "sms, letter" in page
    assert "weekdays after 6pm" in page
    assert "Do not call" in page
    (row,) = caregivers_named(owner_engine, "Rosa Quintero")
    assert (row.tenant_id, row.student_id) == (world.tenant_a.id, student.id)
    assert (row.allowed_channels, row.do_not_call) == (["sms", "letter"], True)
    created = owner_all(
        owner_engine,
        "SELECT tenant_id, object_type, detail FROM audit_log WHERE action = 'create'"
        " AND object_id = :id",
        id=str(row.id),
    )
    assert [(r.tenant_id, r.object_type, r.detail["student_id"]) for r in created] == [
        (world.tenant_a.id, "caregiver", str(student.id))
    ]


def test_caregiver_with_a_malformed_email_is_refused(world, navigator, owner_engine):
    response = post_form(
        navigator,
        caregiver_url(world.students_a[0]),
        {
            "name": "Rosa Quintero",
            "relationship_to_student": "parent",
            "email": "rosa at example",
            "preferred_language": "es",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "email") == ["Invalid email address."]
    assert caregivers_named(owner_engine, "Rosa Quintero") == []


def test_nul_characters_in_a_form_are_refused_not_a_crash(world, login_as):
    client = login_as("navigator@a.test")
    token = csrf_token(client.get("/students/new").text)
    response = client.post("/students/new", data={"csrf_token": token, "first_name": "A\x00B"})
    assert response.status_code == 422
    assert "NUL" in response.text
