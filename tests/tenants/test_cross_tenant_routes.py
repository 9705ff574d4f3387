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
from baton.tenants.scoping import TenantScoped, _tenant_models
from tests.conftest import csrf_token
from tests.factories import DISTRICT_ROLES, markers

SKIP_ENDPOINTS = {"static"}
METHODS = ("GET", "POST")


def _model_for_arg(name: str):
    """`student_id` -> Student: route arguments are named after the tenant-owned model."""
    wanted = name.removesuffix("_id").replace("_", "")
    for cls in _tenant_models():
        if cls.__name__.lower() == wanted:
            return cls
    return None


def _routes(app, with_args: bool):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or bool(rule.arguments) != with_args:
            continue
        yield rule


def _ids_of(tenant_id, rule) -> dict[str, uuid.UUID]:
    values = {}
    for arg in rule.arguments:
        model = _model_for_arg(arg)
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


@pytest.mark.parametrize("email", ["intake@pa.test", "commissioner@test.test"])
def test_provider_and_commissioner_reach_no_student_record(app, world, login_as, email):
    """No referral is addressed to the provider yet, and a commissioner never sees students:
    no page, list or id route may show any student-level data of either district."""
    client = login_as(email)
    for rule in _routes(app, with_args=False):
        if "GET" in rule.methods:
            text = _call(client, "GET", rule.rule).text
            for marker in markers(world, "a") + markers(world, "b"):
                assert marker not in text, (email, rule.rule, marker)
    for rule in _routes(app, with_args=True):
        for key in ("a", "b"):
            with app.app_context():
                url_args = _ids_of(getattr(world, f"tenant_{key}").id, rule)
            url = app.url_map.bind("localhost").build(rule.endpoint, url_args)
            for method in METHODS:
                if method in rule.methods:
                    response = _call(client, method, url)
                    assert response.status_code in (403, 404), (email, method, url)


def test_provider_sees_only_its_partner_district(app, world, login_as):
    page = login_as("intake@pa.test").get("/provider").text
    assert "District A" in page
    assert "District B" not in page
