"""Bad bodies and query values to every /api/v1 operation, walked from the URL map (bodies)
and the OpenAPI document (query parameters): every refusal is a 4xx application/problem+json
and a refused request wrote nothing. Signed in as district A's navigator (session + CSRF);
the generated-value fuzzing of the same operations is test_openapi_fuzz.py."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from baton.platform.api.problems import PROBLEM_JSON
from baton.platform.extensions import db
from baton.tenants.context import system_scope
from baton.tenants.scoping import TenantScoped, model_for_arg
from tests.platform.hostile import HUGE, LONG, NUL, changed, write_counts

PREFIX = "/api/v1/"
SKIP = {"api-docs.openapi_json", "api_docs.docs"}  # the documents, no input

BODIES = {
    "not JSON": b"{not json",
    "not UTF-8": b'{"a": "\xff\xfe"}',
    "a list": b"[1, 2]",
    "a string": b'"x"',
    "a number": b"42",
    "null": b"null",
    "NaN": b'{"a": NaN}',
    "nested 100k deep": b"[" * 100_000 + b"]" * 100_000,
    "huge": b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}',
}


def _hostile_objects(world) -> dict[str, dict]:
    """Objects every POST body schema must refuse (or, for an empty one, explain)."""
    return {
        "unknown field": {"bogus": 1},
        "NUL": {"name": NUL, "reason": NUL, "note": NUL},
        "lone surrogate": {"name": "\ud800", "reason": "\udfff"},
        "NUL key": {NUL: 1},
        "huge ints": {"minutes": int(HUGE), "units": -int(HUGE), "size": int(HUGE)},
        "wrong types": {"student_id": 7, "provider_id": [], "status": {}, "tier": True},
        "bad ids": {"student_id": "not-a-uuid", "provider_id": str(world.pb.id)},
        "foreign ids": {
            "student_id": str(world.students_b[0].id),
            "concern_id": str(world.crisis_concern_b),
            "caregiver_id": str(world.caregiver_b),
            "provider_id": str(world.pb.id),
        },
        "long strings": {"name": LONG, "reason": LONG, "first_name": LONG, "note": LONG},
        "bad dates": {"birth_date": "2024-02-30", "date": "99999-01-01", "expires_on": "x"},
        "bad enums": {"status": "exploded", "channel": "carrier-pigeon", "method": LONG},
    }


def _own_ids(app, world, rule) -> dict:
    values = {}
    for arg in rule.arguments:
        model = model_for_arg(arg)
        assert model is not None and issubclass(model, TenantScoped), arg
        if arg == "referral_id":
            values[arg] = world.referral_a.id
            continue
        with app.app_context(), system_scope("test: a row of district A"):
            values[arg] = db.session.scalars(
                select(model.id).where(model.tenant_id == world.tenant_a.id).limit(1)
            ).first()
        assert values[arg] is not None, f"the world has no {model.__name__}"
    return values


class Checker:
    def __init__(self, api, engine):
        self.api, self.engine = api, engine
        self.counts = write_counts(engine)  # as after the last request
        self.problems: list[str] = []

    def refused(self, method, url, *, data=None, content_type="application/json", headers=None,
                what=""):  # fmt: skip
        before = self.counts
        label = f"{method} {url[:100]} {what}"
        headers = {"X-CSRFToken": self.api.token, **(headers or {})}
        try:
            response = self.api.client.open(
                url, method=method, data=data, content_type=content_type, headers=headers
            )
        except Exception as exc:  # the test app propagates what would be a 500
            self.problems.append(f"500 {label}: {type(exc).__name__} {exc!s:.200}")
            return None
        if not 400 <= response.status_code < 500:
            self.problems.append(f"{response.status_code} {label}")
        elif response.mimetype != PROBLEM_JSON:
            self.problems.append(f"{response.status_code} {response.mimetype} {label}")
        else:
            body = response.get_json()
            if not {"type", "title", "status", "detail"} <= set(body):
                self.problems.append(f"not a problem document {label}")
        self.counts = write_counts(self.engine)  # the next request's "before"
        diff = changed(before, self.counts)
        if diff:
            self.problems.append(f"{label} wrote {diff}")
        return response


@pytest.fixture
def checker(api_as, owner_engine, redis_client):  # a flushed Redis: no rate limit carried over
    return Checker(api_as("navigator@a.test"), owner_engine)


def _api_rules(app, method):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX) and rule.endpoint not in SKIP and method in rule.methods:
            yield rule


def test_every_post_refuses_bad_bodies_in_problem_json(app, world, checker):
    adapter = app.url_map.bind("localhost")
    posts = list(_api_rules(app, "POST"))
    for rule in posts:
        url = adapter.build(rule.endpoint, _own_ids(app, world, rule))
        for what, body in BODIES.items():
            checker.refused("POST", url, data=body, what=what)
        for what, obj in _hostile_objects(world).items():
            checker.refused("POST", url, data=json.dumps(obj), what=what)
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            checker.refused("POST", url, data="a=1", content_type=content_type, what=content_type)
    assert not checker.problems, "\n".join(checker.problems)
    for rule in posts:  # no body at all: a body-less action may run; a refusal is a problem
        url = adapter.build(rule.endpoint, _own_ids(app, world, rule))
        _post_without_body(checker, url)
    assert not checker.problems, "\n".join(checker.problems)
    assert len(posts) > 20


def _post_without_body(checker: Checker, url: str) -> None:
    response = checker.api.post(url)
    checker.counts = write_counts(checker.engine)
    if response.status_code >= 500:
        checker.problems.append(f"{response.status_code} POST {url} without a body")
    elif response.status_code >= 400 and response.mimetype != PROBLEM_JSON:
        checker.problems.append(f"{response.status_code} {response.mimetype} {url} no body")


def _query_parameters(app, api) -> dict[str, list[dict]]:
    document = api.get("/api/v1/openapi.json").get_json()
    found = {}
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get:
            found[path] = [p for p in get.get("parameters", []) if p["in"] == "query"]
    return found


QUERY_VALUES = {
    "empty": "",
    "long": LONG,
    "NUL": NUL,
    "unicode": "😀\u202e\ufffd",
    "negative": "-1",
    "huge": HUGE,
    "float": "1e999",
    "word": "abc",
    "bad date": "2024-02-30",
    "bad month": "2026-13",
    "not a uuid": "not-a-uuid",
}


def test_every_query_parameter_refuses_bad_values_in_problem_json(app, world, checker):
    """Each parameter alone with each value: a 4xx is problem+json (a value that is merely
    unmatched may answer 200); never a 5xx."""
    adapter = app.url_map.bind("localhost")
    documented = _query_parameters(app, checker.api)
    checked = 0
    for rule in _api_rules(app, "GET"):
        path = rule.rule.replace("<uuid:", "{").replace(">", "}")
        url = adapter.build(rule.endpoint, _own_ids(app, world, rule))
        names = [p["name"] for p in documented.get(path, [])] + ["unknown_parameter"]
        for name in names:
            for what, value in QUERY_VALUES.items():
                response = _get(checker, url, {name: value}, f"{name}={what}")
                checked += 1
                if response is not None and response.status_code == 200:
                    assert response.is_json, (url, name, what)
        _get(checker, f"{url}?cursor=x&cursor=y&limit=1&limit=abc", None, "repeated")
    assert not checker.problems, "\n".join(checker.problems)
    assert checked > 200


def _get(checker: Checker, url: str, params, what: str):
    """A read writes nothing but its audit row (not counted): the counts carry over."""
    try:
        response = checker.api.client.get(url, query_string=params)
    except Exception as exc:  # the test app propagates what would be a 500
        checker.problems.append(f"500 GET {url} {what}: {type(exc).__name__} {exc!s:.200}")
        return None
    if response.status_code >= 500:
        checker.problems.append(f"{response.status_code} GET {url} {what}")
    elif response.status_code >= 400:
        if response.mimetype != PROBLEM_JSON:
            checker.problems.append(f"{response.status_code} {response.mimetype} {url} {what}")
        if changed(checker.counts, write_counts(checker.engine)):
            checker.problems.append(f"refused GET wrote: {url} {what}")
    return response


def test_bad_if_match_and_idempotency_keys_are_problem_json(app, world, checker):
    url = f"/api/v1/referrals/{world.referral_a.id}/status"
    body = json.dumps({"status": "withdrawn", "reason": "x"})
    for value in ('W/"abc"', '"', "W/", 'W/"-1"', f'W/"{HUGE}"', 'W/"٣"', LONG):
        checker.refused("POST", url, data=body, headers={"If-Match": value}, what=value[:20])
    for key in (LONG, "a\x7fb", "\u202e"):
        checker.refused(
            "POST",
            "/api/v1/referrals",
            data=json.dumps({"bogus": 1}),
            headers={"Idempotency-Key": key},
            what="Idempotency-Key",
        )
    for method in ("PUT", "PATCH", "DELETE"):
        checker.refused(method, url, data=body, what="method")
    checker.refused("GET", "/api/v1/nothing-here", what="unknown path")
    checker.refused("GET", "/api/v1/referrals/not-a-uuid", what="not a uuid")
    checker.refused("GET", f"/api/v1/referrals/{world.referral_b.id}", what="other district")
    assert not checker.problems, "\n".join(checker.problems)
