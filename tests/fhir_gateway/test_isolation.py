"""Cross-provider and cross-tenant isolation on /fhir, walked from the URL map with tokens.

Every id-taking FHIR route, with every method it has, called with another provider's or
district's ids answers 404 (as a missing id would) and shows nothing of theirs; every search
and ``_include`` pointed at their resources finds nothing. New FHIR routes are covered
without editing this file: an id argument this walk cannot fill fails it.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from baton.platform.extensions import db
from tests.factories import markers


def _attempt_in(app, world, key: str):
    """One contact attempt on district ``key``'s referral (logged as its navigator)."""
    from baton.platform.services import contact
    from baton.tenants.context import acting_as
    from tests.factories import principal_of

    with app.app_context(), acting_as(principal_of(f"navigator@{key}.test")):
        referral = getattr(world, f"referral_{key}")
        attempt = contact.log_attempt(
            referral.id,
            caregiver_id=getattr(world, f"caregiver_{key}"),
            channel="phone",
            outcome="no-answer",
        )
        db.session.commit()
        return attempt.id


def _subscription_of(app, provider) -> str:
    """A subscription held by ``provider``'s EHR (made through the service, as its token would)."""
    from baton.fhir_gateway.acting import as_provider
    from baton.platform.services import subscriptions

    with app.app_context(), as_provider(provider.id, "fhir"):
        row = subscriptions.create_subscription(
            subscriptions.SubscriptionInput(
                owner_id=provider.id,
                filter=f"Task?owner=Organization/{provider.id}",
                endpoint="https://127.0.0.1:9/hook",
            )
        )
        db.session.commit()
        return str(row.id)


def _foreign_ids(app, world, key: str, org_ids: list) -> dict:
    referral = getattr(world, f"referral_{key}")
    return {
        "subscription_id": [_subscription_of(app, world.pa if key == "a" else world.pb)],
        "referral_id": [referral.id],
        "student_id": [referral.student_id],
        "consent_id": [getattr(world, f"consent_{key}").id],
        "contact_attempt_id": [_attempt_in(app, world, key)],
        "organization_id": org_ids,
        "version_id": ["1"],
    }


def _fhir_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/fhir/")]


def _walk(app, session, ids: dict, hidden: list[str]) -> int:
    checked = 0
    for rule in _fhir_rules(app):
        if not rule.arguments:
            continue
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"{rule.rule}: no foreign id for {missing}; add one to this walk"
        combos = [{}]
        for arg in sorted(rule.arguments):
            combos = [{**c, arg: value} for c in combos for value in ids[arg]]
        for args in combos:
            path = app.url_map.bind("localhost").build(rule.endpoint, args).removeprefix("/fhir")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = _call(session, method, path)
                assert response.status_code == 404, (method, path, response.status_code)
                assert response.json()["resourceType"] == "OperationOutcome"
                for marker in hidden:
                    assert marker not in response.text, (method, path, marker)
                checked += 1
    return checked


def _call(session, method: str, path: str):
    if method == "GET":
        return session.get(path)
    if method == "PUT":
        return session.put(path, {"resourceType": "Task"}, 'W/"1"')
    if method == "DELETE":
        return session._checked(session.session.delete(session.base + path, timeout=15))
    return session.post(path, {"resourceType": "Communication"})


def test_provider_reaches_nothing_of_another_provider_or_district(app, ehr, world):
    ids = _foreign_ids(app, world, "b", [world.tenant_b.id, world.pb.id])
    assert _walk(app, ehr, ids, [*markers(world, "b"), "District B", "Provider Beta"]) > 10


def test_district_reaches_nothing_of_another_district(app, fhir_as, world):
    district_a = fhir_as(tenant_id=world.tenant_a.id, name="SIS-A")
    ids = _foreign_ids(app, world, "b", [world.tenant_b.id, world.pb.id])
    assert _walk(app, district_a, ids, [*markers(world, "b"), "District B"]) > 10


SEARCHES = [
    "/Task",
    "/Task?_id={referral}",
    "/Task?patient=Patient/{student}",
    "/Task?focus=ServiceRequest/{referral}",
    "/Task?requester=Organization/{tenant}",
    "/Task?owner=Organization/{provider}",
    "/Task?identifier=https://fhir.baton.example/sid/referral|{referral}",
    "/Task?_include=Task:focus&_include=Task:patient",
    "/Task?_include=Task:focus&_include=Task:patient&_id={referral}",
    "/ServiceRequest",
    "/ServiceRequest?_id={referral}",
    "/ServiceRequest?patient=Patient/{student}",
    "/ServiceRequest?performer=Organization/{provider}",
    "/Communication?based-on=ServiceRequest/{referral}",
    "/Communication?part-of=Task/{referral}",
    "/Subscription",
    "/Subscription?status=requested,active,error",
]


@pytest.mark.parametrize("who", ["provider", "district"])
def test_searches_and_includes_never_show_the_other_side(app, fhir_as, world, who):
    _attempt_in(app, world, "b")
    session = (
        fhir_as(provider_id=world.pa.id)
        if who == "provider"
        else fhir_as(tenant_id=world.tenant_a.id, name="SIS-A")
    )
    foreign_subscription = _subscription_of(app, world.pb)
    values = {
        "referral": world.referral_b.id,
        "student": world.referral_b.student_id,
        "tenant": world.tenant_b.id,
        "provider": world.pb.id,
    }
    searched = {r.rule for r in _fhir_rules(app) if not r.arguments and "GET" in r.methods}
    covered = {path.split("?")[0] for path in SEARCHES} | {
        "/metadata",
        "/.well-known/smart-configuration",
        "/.well-known/client-jwks.json",
    }
    assert {rule.removeprefix("/fhir") for rule in searched} <= covered, "a new search: add it here"
    for template in SEARCHES:
        response = session.get(template.format(**values))
        assert response.status_code == 200, (template, response.text)
        for marker in markers(world, "b"):
            assert marker not in response.text, (template, marker)
        entries = json.dumps(response.json().get("entry", []))  # the self link echoes the query
        for foreign in (
            world.referral_b.id,
            world.referral_b.student_id,
            world.tenant_b.id,
            foreign_subscription,
        ):
            assert str(foreign) not in entries, (template, foreign)
    own = session.get("/Task?_include=Task:patient").json()
    assert str(world.referral_a.id) in {e["resource"]["id"] for e in own["entry"]}


def test_ended_partnership_hides_the_districts_referrals(ehr, world, owner_engine):
    assert ehr.get(f"/Task/{world.referral_a.id}").status_code == 200
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE partnerships SET active = false WHERE provider_id = :id"),
            {"id": world.pa.id},
        )
    assert ehr.get(f"/Task/{world.referral_a.id}").status_code == 404
    assert ehr.get("/Task").json().get("entry", []) == []
    assert ehr.get(f"/Organization/{world.tenant_a.id}").status_code == 404


def test_own_side_is_visible(app, ehr, world):
    """The walks above would pass on a server that answers 404 to everything."""
    attempt_id = _attempt_in(app, world, "a")
    subscription_id = _subscription_of(app, world.pa)
    assert subscription_id in ehr.get("/Subscription").text
    for path in (
        f"/Subscription/{subscription_id}",
        f"/Subscription/{subscription_id}/$status",
        f"/Task/{world.referral_a.id}",
        f"/ServiceRequest/{world.referral_a.id}",
        f"/Patient/{world.referral_a.student_id}",
        f"/Consent/{world.consent_a.id}",
        f"/Organization/{world.tenant_a.id}",
        f"/Organization/{world.pa.id}",
        f"/Communication/{attempt_id}",
        f"/Task/{world.referral_a.id}/_history/2",
    ):
        assert ehr.get(path).status_code == 200, path
