"""Walks the app's URL map, so every new route is covered without editing this file.

District A's staff call every id-taking route with district B's ids (404, like a missing id)
and every list route (never B's rows). Provider staff see nothing of a non-partner district,
and a commissioner gets no student-level page at all.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from baton.platform.extensions import db
from baton.tenants.context import system_scope
from baton.tenants.scoping import TenantScoped, model_for_arg
from tests.conftest import csrf_token
from tests.factories import DISTRICT_ROLES, markers

SKIP_ENDPOINTS = {"static"}
METHODS = ("GET", "POST")
# Answer bearer tokens only (a session gets 401): their id routes are walked with tokens, by
# tests/fhir_gateway/test_isolation.py; their list routes are still walked here.
TOKEN_ONLY_PREFIXES = ("/fhir/",)


def _partner_app_of(tenant_id) -> str:
    from baton.platform.oauth.models import OAuthClient

    with system_scope("test: pick another tenant's partner app"):
        return db.session.scalars(
            select(OAuthClient.client_id).where(OAuthClient.tenant_id == tenant_id)
        ).first()


# Route arguments that name a row by a public string id rather than a tenant-owned model's
# UUID (OAuth clients are not tenant tables; see baton/platform/oauth/models.py).
PUBLIC_ID_ARGS = {"client_id": _partner_app_of}


@pytest.fixture(autouse=True)
def _partner_apps(app, world):
    """One partner app per district, so the admin's app routes are walked too."""
    from tests.oauth_support import register_app

    for tenant in (world.tenant_a, world.tenant_b):
        register_app(app, tenant_id=tenant.id, name=f"App of {tenant.name}")


def _routes(app, with_args: bool):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or bool(rule.arguments) != with_args:
            continue
        if with_args and rule.rule.startswith(TOKEN_ONLY_PREFIXES):
            continue
        yield rule


def _ids_of(tenant_id, rule) -> dict[str, uuid.UUID]:
    values = {}
    for arg in rule.arguments:
        if arg in PUBLIC_ID_ARGS:
            with system_scope("test: pick another tenant's id"):
                values[arg] = PUBLIC_ID_ARGS[arg](tenant_id)
            assert values[arg] is not None, f"no {arg} in that tenant"
            continue
        model = model_for_arg(arg)
        if model is None or not issubclass(model, TenantScoped):
            pytest.fail(
                f"route {rule.rule}: argument {arg!r} names no tenant-owned model; "
                "name id arguments after their model (e.g. student_id) so isolation is tested"
            )
        with system_scope("test: pick another tenant's id"):
            row = db.session.scalars(
                select(model.id).where(model.tenant_id == tenant_id).limit(1)
            ).first()
        assert row is not None, f"the world fixture has no {model.__name__} in that tenant"
        values[arg] = row
    return values


def _call(client, method: str, url: str):
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_token(client.get("/login").text)  # the session's token, valid on any form
        if url.startswith("/api/"):
            response = client.post(url, json={}, headers={"X-CSRFToken": token})
        else:
            response = client.post(url, data={"csrf_token": token})
    assert response.status_code < 500, (method, url, response.status_code)
    return response


@pytest.mark.parametrize("role", DISTRICT_ROLES)
def test_other_districts_ids_answer_404(app, world, login_as, role):
    client = login_as(f"{role}@a.test")
    checked = 0
    for rule in _routes(app, with_args=True):
        with app.app_context():
            url_args = _ids_of(world.tenant_b.id, rule)
        url = app.url_map.bind("localhost").build(rule.endpoint, url_args)
        for method in METHODS:
            if method not in rule.methods:
                continue
            response = _call(client, method, url)
            assert response.status_code in (403, 404), (
                method,
                url,
                response.status_code,
                response.text[-400:],
            )
            assert response.status_code != 200
            for marker in markers(world, "b"):
                assert marker not in response.text
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("role", DISTRICT_ROLES)
def test_foreign_id_is_indistinguishable_from_missing(app, world, login_as, role):
    """Where the role may use a route at all, B's id and a random id answer the same 404."""
    client = login_as(f"{role}@a.test")
    for rule in _routes(app, with_args=True):
        if "GET" not in rule.methods:
            continue
        with app.app_context():
            foreign = _ids_of(world.tenant_b.id, rule)
        adapter = app.url_map.bind("localhost")
        missing = {k: uuid.uuid4() for k in foreign}
        a = client.get(adapter.build(rule.endpoint, foreign))
        b = client.get(adapter.build(rule.endpoint, missing))
        assert a.status_code == b.status_code
        assert _strip_ids(a.text) == _strip_ids(b.text)


def _strip_ids(html: str) -> str:
    """Ids differ by design; so does the CSRF token, which is signed with the current second."""
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1<token>", html)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", html)


@pytest.mark.parametrize("role", DISTRICT_ROLES)
def test_list_routes_never_show_other_districts_rows(app, world, login_as, role):
    client = login_as(f"{role}@a.test")
    for rule in _routes(app, with_args=False):
        if "GET" not in rule.methods:
            continue
        response = _call(client, "GET", rule.rule)
        for marker in [*markers(world, "b"), "School-B-Marker"]:
            assert marker not in response.text, (rule.rule, marker)


def test_district_a_does_see_its_own_rows(app, world, login_as):
    """The isolation tests above would pass on an empty page; prove the pages show A's data."""
    client = login_as("navigator@a.test")
    listing = client.get("/students").text
    for marker in markers(world, "a")[:2]:
        assert marker in listing
    own = world.students_a[0]
    assert client.get(f"/students/{own.id}").status_code == 200


def test_commissioner_reaches_no_student_record(app, world, login_as):
    """A commissioner sees aggregates only: no page shows student-level data of any
    district, and no id route answers."""
    client = login_as("commissioner@test.test")
    for rule in _routes(app, with_args=False):
        if "GET" in rule.methods:
            text = _call(client, "GET", rule.rule).text
            for marker in markers(world, "a") + markers(world, "b"):
                assert marker not in text, (rule.rule, marker)
    for rule in _routes(app, with_args=True):
        for key in ("a", "b"):
            with app.app_context():
                url_args = _ids_of(getattr(world, f"tenant_{key}").id, rule)
            url = app.url_map.bind("localhost").build(rule.endpoint, url_args)
            for method in METHODS:
                if method in rule.methods:
                    assert _call(client, method, url).status_code in (403, 404), (method, url)


def test_provider_reaches_nothing_of_a_non_partner_district(app, world, login_as):
    """Provider pa partners only with district A: every B id answers 403/404 and no page
    shows B's student-level data; its list of referrals holds only A's referral to it."""
    client = login_as("intake@pa.test")
    for rule in _routes(app, with_args=False):
        if "GET" in rule.methods:
            text = _call(client, "GET", rule.rule).text
            for marker in markers(world, "b"):
                assert marker not in text, (rule.rule, marker)
    for rule in _routes(app, with_args=True):
        with app.app_context():
            url_args = _ids_of(world.tenant_b.id, rule)
        url = app.url_map.bind("localhost").build(rule.endpoint, url_args)
        for method in METHODS:
            if method in rule.methods:
                assert _call(client, method, url).status_code in (403, 404), (method, url)
    listed = client.get("/api/v1/referrals").json["items"]
    assert [r["id"] for r in listed] == [str(world.referral_a.id)]


def test_provider_sees_only_its_partner_district(app, world, login_as):
    page = login_as("intake@pa.test").get("/provider").text
    assert "District A" in page
    assert "District B" not in page
