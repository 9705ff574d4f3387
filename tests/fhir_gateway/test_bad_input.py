"""Bad input to /fhir: every refusal is a 4xx OperationOutcome (application/fhir+json, valid
R4) and changes nothing. The token comes from the real token service (on the loopback
server); the requests go through the test client to the app on the same database."""

from __future__ import annotations

import json

import pytest

from tests.fhir_gateway.validation import assert_valid_fhir
from tests.oauth_support import fetch_token, register_client
from tests.platform.hostile import LONG, changed, write_counts

FHIR_JSON = "application/fhir+json"


class Caller:
    """The test client with pa's EHR token; checks every answer is an OperationOutcome."""

    def __init__(self, app, token: str, engine):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
        self.engine = engine
        self.counts = write_counts(engine)  # as after the last request
        self.problems: list[str] = []

    def refused(self, method: str, path: str, *, data=None, headers=None, what=""):
        """Send it; note a problem unless it is a 4xx OperationOutcome that wrote nothing."""
        before = self.counts
        label = f"{method} {path[:120]} {what[:120]}"
        try:
            response = self.client.open(
                path, method=method, data=data, headers={**self.headers, **(headers or {})}
            )
        except Exception as exc:  # the test app propagates what would be a 500
            self.problems.append(f"500 {label}: {type(exc).__name__} {exc!s:.200}")
            return None
        if not 400 <= response.status_code < 500:
            self.problems.append(f"{response.status_code} {label}")
        elif response.mimetype != FHIR_JSON:
            self.problems.append(f"{response.status_code} {response.mimetype} {label}")
        else:
            body = response.get_json()
            if body.get("resourceType") != "OperationOutcome" or not body.get("issue"):
                self.problems.append(f"{response.status_code} not an OperationOutcome {label}")
            else:
                assert_valid_fhir(body)
        self.counts = write_counts(self.engine)  # the next request's "before"
        diff = changed(before, self.counts)
        if diff:
            self.problems.append(f"{label} wrote {diff}")
        return response


@pytest.fixture
def caller(app, live_server, world, owner_engine):
    ehr = register_client(live_server.app, provider_id=world.pa.id)
    token = fetch_token(live_server, ehr)["access_token"]
    return Caller(app, token, owner_engine)


def _task(app, caller, world) -> tuple[dict, str]:
    read = caller.client.get(f"/fhir/Task/{world.referral_a.id}", headers=caller.headers)
    assert read.status_code == 200, read.text
    return read.get_json(), read.headers["ETag"]


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def test_bad_bodies_are_operation_outcomes_and_change_nothing(app, caller, world):
    task, etag = _task(app, caller, world)
    path = f"/fhir/Task/{world.referral_a.id}"
    fhir = {"Content-Type": FHIR_JSON, "If-Match": etag}
    bodies = {
        "not JSON": b"{not json",
        "empty": b"",
        "not UTF-8": b'{"resourceType": "Task", "x": "\xff\xfe"}',
        "a list": b"[]",
        "a string": b'"Task"',
        "a number": b"42",
        "null": b"null",
        "NaN": b'{"resourceType": "Task", "priority": NaN}',
        "nested 100k deep": _deep(100_000),
        "nested object": json.dumps({"resourceType": "Task", "a": {"b": {"c": [[[]]]}}}).encode(),
        "wrong resourceType": json.dumps({**task, "resourceType": "ServiceRequest"}).encode(),
        "no resourceType": json.dumps({k: v for k, v in task.items() if k != "resourceType"}),
        "resourceType a number": json.dumps({**task, "resourceType": 7}).encode(),
        "unknown element": json.dumps({**task, "bogus": True}).encode(),
        "status not a string": json.dumps({**task, "status": ["completed"]}).encode(),
        "status unknown": json.dumps({**task, "status": "exploded"}).encode(),
        "long id": json.dumps({**task, "id": LONG}).encode(),
        "other id": json.dumps({**task, "id": str(world.referral_b.id)}).encode(),
        "no id": json.dumps({k: v for k, v in task.items() if k != "id"}).encode(),
        "lone surrogate": json.dumps({**task, "description": "\ud800"}).encode(),
        "NUL in text": json.dumps({**task, "description": "a\x00b"}).encode(),
        "huge": b'{"resourceType": "Task", "x": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    }
    for what, body in bodies.items():
        caller.refused("PUT", path, data=body, headers=fhir, what=what)
    for content_type in ("text/plain", "application/xml", "multipart/form-data", "", "fhir"):
        headers = {"Content-Type": content_type, "If-Match": etag}
        caller.refused("PUT", path, data=json.dumps(task), headers=headers, what=content_type)
    assert not caller.problems, "\n".join(caller.problems)
    assert _task(app, caller, world)[1] == etag  # the Task did not move


def test_bad_if_match_is_an_operation_outcome(app, caller, world):
    task, etag = _task(app, caller, world)
    body = json.dumps(task)
    path = f"/fhir/Task/{world.referral_a.id}"
    for value in ('W/"abc"', '"', "W/", "*", 'W/"-1"', 'W/"1e3"', f'W/"{2**70}"', 'W/"٣"'):
        headers = {"Content-Type": FHIR_JSON, "If-Match": value}
        caller.refused("PUT", path, data=body, headers=headers, what=f"If-Match {value}")
    caller.refused("PUT", path, data=body, headers={"Content-Type": FHIR_JSON}, what="none")
    assert not caller.problems, "\n".join(caller.problems)
    assert _task(app, caller, world)[1] == etag


def test_bad_ids_and_unknown_interactions_are_operation_outcomes(app, caller, world):
    task, etag = _task(app, caller, world)
    ids = ["not-a-uuid", LONG[:5000], "%00", "%F0%9F%98%80", "..", str(world.referral_b.id)]
    for resource in ("Task", "ServiceRequest", "Patient", "Consent", "Organization"):
        for bad in ids:
            caller.refused("GET", f"/fhir/{resource}/{bad}", what="bad id")
    for bad in ids[:3]:
        caller.refused("GET", f"/fhir/Communication/{bad}", what="bad id")
        caller.refused("GET", f"/fhir/Subscription/{bad}", what="bad id")
        caller.refused("GET", f"/fhir/Task/{world.referral_a.id}/_history/{bad}", what="bad vid")
    own = f"/fhir/Task/{world.referral_a.id}"
    for method, path in (
        ("DELETE", own),
        ("PATCH", own),
        ("POST", own),
        ("POST", "/fhir/Task"),
        ("PUT", "/fhir/Task"),
        ("GET", "/fhir/Unknown"),
        ("GET", "/fhir/Unknown/1"),
        ("GET", f"{own}/$everything"),
        ("POST", "/fhir/Task/_search"),
        ("POST", "/fhir"),
        ("GET", "/fhir/"),
        ("DELETE", "/fhir/metadata"),
    ):
        data = json.dumps(task) if method in ("POST", "PUT", "PATCH") else None
        headers = {"Content-Type": FHIR_JSON, "If-Match": etag}
        caller.refused(method, path, data=data, headers=headers, what="unknown interaction")
    assert not caller.problems, "\n".join(caller.problems)


@pytest.mark.parametrize("resource", ["Task", "ServiceRequest"])
def test_bad_search_parameters_are_operation_outcomes(app, caller, resource):
    refused = [
        "_count=-1",
        "_count=0",
        "_count=abc",
        "_count=1e3",
        f"_count={2**70}",
        "_count=٣",
        "_lastUpdated=garbage",
        "_lastUpdated=gt",
        "_lastUpdated=gt2024-13-45",
        "_lastUpdated=zz2024-01-01",
        "_lastUpdated=gt99999-01-01",
        "_lastUpdated=ge0000-01-01",
        "_lastUpdated=lt2024-01-01T25:61:00Z",
        "_unknown=1",
        "name=x",
        "_include=Task:owner",
        "_include=*",
        "_sort=name",
        "_format=xml",
        "_cursor=garbage",
        "_cursor=" + "A" * 5000,
        "status=exploded",
        "status=",
        "_id=%00",
        "_lastUpdated=gt2024-01-01&_lastUpdated=garbage",
    ]
    for query in refused:
        caller.refused("GET", f"/fhir/{resource}?{query}", what=query)
    assert not caller.problems, "\n".join(caller.problems)
    # Well-formed searches for what cannot exist match nothing: an empty searchset.
    for query in (
        "patient=Patient/not-a-uuid",
        "_id=not-a-uuid",
        "identifier=" + "x" * 10_000,
        "requester=%F0%9F%98%80",
    ):
        response = caller.client.get(f"/fhir/{resource}?{query}", headers=caller.headers)
        assert response.status_code == 200, (query[:80], response.status_code)
        assert not response.get_json().get("entry")


def test_bad_communication_and_subscription_bodies(app, caller, world):
    fhir = {"Content-Type": FHIR_JSON}
    for resource in ("Communication", "Subscription"):
        for what, body in {
            "empty object": b"{}",
            "wrong type": json.dumps({"resourceType": "Task", "status": "requested"}).encode(),
            "a list": b"[1, 2]",
            "not JSON": b"<xml/>",
            "deep": _deep(50_000),
            "bad references": json.dumps(
                {
                    "resourceType": resource,
                    "status": "completed" if resource == "Communication" else "requested",
                    "basedOn": [{"reference": f"ServiceRequest/{'x' * 5000}"}],
                    "partOf": [{"reference": "Task/not-a-uuid"}],
                    "criteria": "Task?_id=" + "x" * 5000,
                    "channel": {"type": "rest-hook", "endpoint": "javascript:alert(1)"},
                    "reason": "r",
                }
            ).encode(),
        }.items():
            caller.refused("POST", f"/fhir/{resource}", data=body, headers=fhir, what=what)
        caller.refused(
            "POST", f"/fhir/{resource}", data=b"{}", headers={"Content-Type": "text/csv"}
        )
    for query in ("based-on=", "part-of=Task/1&based-on=ServiceRequest/2", "_count=-1", "x=1"):
        caller.refused("GET", f"/fhir/Communication?{query}", what=query)
    for query in ("status=bogus", "_count=abc", "criteria=x"):
        caller.refused("GET", f"/fhir/Subscription?{query}", what=query)
    assert not caller.problems, "\n".join(caller.problems)
