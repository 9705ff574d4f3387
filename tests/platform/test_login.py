"""Signing in and out through the browser forms: refusals, lockout, CSRF, landing pages."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from baton.platform.permissions import LANDING, PERMISSIONS
from tests.conftest import PASSWORD, csrf_token, login
from tests.factories import DISTRICT_ROLES

REFUSED = "Invalid email or password"
LOCKED = "temporarily locked"
ROLE_EMAILS = {role: f"{role}@a.test" for role in DISTRICT_ROLES} | {
    "provider_intake": "intake@pa.test",
    "provider_admin": "provider_admin@pa.test",
    "commissioner": "commissioner@test.test",
}


def owner_one(owner_engine, sql: str, **params):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def owner_all(owner_engine, sql: str, **params) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def owner_run(owner_engine, sql: str, **params) -> None:
    with owner_engine.begin() as conn:
        conn.execute(text(sql), params)


def user_row(owner_engine, email: str):
    return owner_one(
        owner_engine,
        "SELECT id, failed_logins, locked_until, last_login_at FROM users WHERE email = :e",
        e=email,
    )


def audit_actions(owner_engine, user_id) -> list[str]:
    rows = owner_all(
        owner_engine,
        "SELECT action FROM audit_log WHERE object_type = 'user' AND object_id = :id ORDER BY at",
        id=str(user_id),
    )
    return [r.action for r in rows]


def banner(html: str) -> list[str]:
    return re.findall(r'<p class="error banner" role="alert">(.*?)</p>', html)


def assert_signed_out(client) -> None:
    response = client.get("/students")
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).path == "/login"


def path_of(app, endpoint: str) -> str:
    return app.url_map.bind("localhost").build(endpoint)


# -- refusals -----------------------------------------------------------------------------


def test_wrong_password_is_refused_counted_and_audited(client, world, owner_engine):
    response = login(client, "navigator@a.test", "wrong-password-123")

    assert response.status_code == 401
    assert banner(response.text) == [REFUSED]
    assert "wrong-password-123" not in response.text
    assert_signed_out(client)
    user = user_row(owner_engine, "navigator@a.test")
    assert user.failed_logins == 1
    assert user.last_login_at is None
    assert audit_actions(owner_engine, user.id) == ["login-failed"]


def test_unknown_email_gets_the_same_refusal(client, world, owner_engine):
    known = login(client, "navigator@a.test", "wrong-password-123")
    unknown = login(client, "nobody@a.test", "wrong-password-123")

    assert unknown.status_code == known.status_code == 401
    assert banner(unknown.text) == banner(known.text) == [REFUSED]
    assert_signed_out(client)
    with owner_engine.connect() as conn:
        attempted = (
            conn.execute(
                text(
                    "SELECT detail->>'email' FROM audit_log WHERE action = 'login-failed'"
                    " AND object_id IS NULL"
                )
            )
            .scalars()
            .all()
        )
    assert attempted == ["nobody@a.test"]


def test_inactive_user_is_refused_with_the_same_message(client, world, owner_engine):
    owner_run(owner_engine, "UPDATE users SET active = false WHERE email = 'navigator@a.test'")
    response = login(client, "navigator@a.test")
    assert response.status_code == 401
    assert banner(response.text) == [REFUSED]
    assert_signed_out(client)


def test_deactivating_a_user_ends_their_open_session(app, world, owner_engine, login_as):
    signed_in = login_as("navigator@a.test")
    assert signed_in.get("/students").status_code == 200
    owner_run(owner_engine, "UPDATE users SET active = false WHERE email = 'navigator@a.test'")
    assert_signed_out(signed_in)


def test_repeated_failures_lock_the_account_until_the_lock_expires(client, world, owner_engine):
    email = "navigator@a.test"
    statuses = [login(client, email, f"wrong-password-{n}").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 423]

    locked = login(client, email)  # the right password does not get through a lock
    assert locked.status_code == 423
    assert LOCKED in locked.text
    assert_signed_out(client)
    user = user_row(owner_engine, email)
    assert user.locked_until is not None
    assert audit_actions(owner_engine, user.id) == [
        *["login-failed"] * 4,
        "account-locked",
        "login-refused-locked",
    ]

    owner_run(
        owner_engine,
        "UPDATE users SET locked_until = now() - interval '1 minute' WHERE email = :e",
        e=email,
    )
    response = login(client, email)
    assert response.status_code == 302
    assert client.get("/students").status_code == 200
    user = user_row(owner_engine, email)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert user.last_login_at is not None


def test_a_successful_login_resets_the_failure_count(client, world, owner_engine):
    for n in range(3):
        login(client, "navigator@a.test", f"wrong-password-{n}")
    assert user_row(owner_engine, "navigator@a.test").failed_logins == 3
    assert login(client, "navigator@a.test").status_code == 302
    assert user_row(owner_engine, "navigator@a.test").failed_logins == 0


# -- CSRF ---------------------------------------------------------------------------------


def test_login_without_csrf_token_is_rejected(client, world, owner_engine):
    response = client.post("/login", data={"email": "navigator@a.test", "password": PASSWORD})
    assert response.status_code == 400
    assert_signed_out(client)
    user = user_row(owner_engine, "navigator@a.test")
    assert user.last_login_at is None
    assert audit_actions(owner_engine, user.id) == []


def test_login_with_a_forged_csrf_token_is_rejected(client, world):
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": "navigator@a.test", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert_signed_out(client)


def test_signed_in_post_without_csrf_token_changes_nothing(world, owner_engine, login_as):
    client = login_as("navigator@a.test")
    form = {
        "local_id": "NO-CSRF-1",
        "first_name": "Nora",
        "last_name": "Token",
        "birth_date": "2013-04-05",
        "grade": "7",
        "school_id": str(world.school_a.id),
        "preferred_language": "en",
    }
    response = client.post("/students/new", data=form)
    assert response.status_code == 400
    assert "security token" in response.text
    count = owner_one(
        owner_engine, "SELECT count(*) AS n FROM students WHERE local_id = 'NO-CSRF-1'"
    )
    assert count.n == 0
    # The very same form with its token goes through: only the token was missing.
    token = csrf_token(client.get("/students/new").text)
    assert client.post("/students/new", data=form | {"csrf_token": token}).status_code == 302


# -- sign out -----------------------------------------------------------------------------


def test_logout_clears_the_session(world, login_as):
    client = login_as("navigator@a.test")
    page = client.get("/students")
    assert page.status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).path == "/login"
    assert_signed_out(client)


def test_logout_without_csrf_token_keeps_the_session(world, login_as):
    client = login_as("navigator@a.test")
    assert client.post("/logout").status_code == 400
    assert client.get("/students").status_code == 200


# -- where each role lands ----------------------------------------------------------------


def test_role_emails_cover_every_role():
    assert set(ROLE_EMAILS) == set(LANDING) == set(PERMISSIONS)


@pytest.mark.parametrize("role", sorted(LANDING))
def test_each_role_lands_on_its_page_and_is_refused_the_others(app, client, world, role):
    response = login(client, ROLE_EMAILS[role])
    assert response.status_code == 302
    landing = path_of(app, LANDING[role])
    assert response.headers["Location"] == landing
    assert client.get(landing).status_code == 200
    home = client.get("/")
    assert (home.status_code, home.headers["Location"]) == (302, landing)

    refused = 0
    for other, endpoint in LANDING.items():
        needed = app.view_functions[endpoint].required_permission
        if other == role or needed in PERMISSIONS[role]:
            continue
        response = client.get(path_of(app, endpoint))
        assert response.status_code == 403, (role, endpoint)
        assert "Not allowed for your role" in response.text
        refused += 1
    assert refused > 0


def test_referrer_cannot_open_admin(world, login_as):
    assert login_as("referrer@a.test").get("/admin").status_code == 403


def test_anonymous_visitor_is_sent_to_login_with_next(client, world):
    response = client.get("/students?q=x")
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert location.path == "/login"
    assert "next=" in location.query


# -- redirects after sign-in and the audit trail ------------------------------------------


def test_offsite_next_is_ignored(app, world):
    landing = path_of(app, LANDING["navigator"])
    targets = ("//evil.example/x", "https://evil.example/x", "evil.example/x", "javascript:x()")
    for target in targets:
        client = app.test_client()
        token = csrf_token(client.get("/login").text)
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"email": "navigator@a.test", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, target
        location = urlparse(response.headers["Location"])
        assert location.netloc in ("", "localhost"), target
        assert "evil.example" not in response.headers["Location"]
        assert location.path == landing, target


def test_local_next_is_followed(client, world):
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/login",
        query_string={"next": "/students?q=Only"},
        data={"email": "navigator@a.test", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/students?q=Only"


def test_successful_login_is_audited(client, world, owner_engine):
    assert login(client, "navigator@a.test").status_code == 302
    user = user_row(owner_engine, "navigator@a.test")
    rows = owner_all(
        owner_engine,
        "SELECT action, tenant_id, actor_user_id, actor_role, surface FROM audit_log"
        " WHERE object_id = :id",
        id=str(user.id),
    )
    assert [tuple(r) for r in rows] == [("login", world.tenant_a.id, user.id, "navigator", "ui")]
    assert user.last_login_at is not None
