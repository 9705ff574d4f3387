"""fhir-profile.md §13, one test per scenario (1-25, 29), against the app on a loopback port
(PostgreSQL, Redis), with tokens from the token service. Every FHIR body received is
checked as valid R4 by the ``Fhir`` helper. 26-28 (subscriptions, push) come with those."""

from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import text

from tests.fhir_gateway.conftest import (
    BASE,
    business_status,
    decline_reason,
    make_referral,
    output,
    set_status,
)
from tests.oauth_support import SmartPrivateKeyJWT, register_client


def _version(response) -> int:
    return int(response.headers["ETag"].removeprefix('W/"').rstrip('"'))


def _events(owner_engine, referral_id) -> list[tuple]:
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT to_status, surface, actor_kind FROM referral_events "
                "WHERE referral_id = :id ORDER BY seq"
            ),
            {"id": referral_id},
        ).all()


def _api_referral(login_as, referral_id) -> dict:
    return login_as("navigator@a.test").get(f"/api/v1/referrals/{referral_id}").json


# 1
def test_provider_poll_returns_only_its_tasks_with_service_request_and_patient(ehr, world):
    response = ehr.get(
        f"/Task?owner=Organization/{world.pa.id}&_lastUpdated=gt2020-01-01T00:00:00Z"
        "&_sort=_lastUpdated&_include=Task:focus&_include=Task:patient&_count=100"
    )
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset" and bundle["meta"]["lastUpdated"]
    by_mode = {}
    for entry in bundle["entry"]:
        by_mode.setdefault(entry["search"]["mode"], []).append(entry["resource"])
    assert [t["id"] for t in by_mode["match"]] == [str(world.referral_a.id)]
    assert all(t["owner"]["reference"] == f"Organization/{world.pa.id}" for t in by_mode["match"])
    included = {(r["resourceType"], r["id"]) for r in by_mode["include"]}
    assert included == {
        ("ServiceRequest", str(world.referral_a.id)),
        ("Patient", str(world.referral_a.student_id)),
    }
    unfiltered = ehr.get("/Task").json()  # even without owner=: only its own
    assert [e["resource"]["id"] for e in unfiltered["entry"]] == [str(world.referral_a.id)]


# 2
def test_etag_is_the_version_and_a_put_with_it_moves_on_one(ehr, world, owner_engine):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    version = _version(read)
    assert read.json()["meta"]["versionId"] == str(version)
    moved = ehr.move(world.referral_a.id, "received")
    assert moved.status_code == 200, moved.text
    assert _version(moved) == version + 1
    task = moved.json()
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "requested",
        "received",
    )
    assert _events(owner_engine, world.referral_a.id)[-1] == ("received", "fhir", "provider")


# 3
def test_accepted_is_seen_by_the_district(ehr, world, login_as):
    assert ehr.move(world.referral_a.id, "accepted").status_code == 200
    seen = _api_referral(login_as, world.referral_a.id)
    assert (seen["status"], seen["task_status"]) == ("accepted", "accepted")


# 4
def test_declined_with_reason_keeps_the_request_active_and_alerts_the_district(
    ehr, world, owner_engine
):
    moved = ehr.move(world.referral_a.id, "declined", reason=decline_reason("no-capacity"))
    assert moved.status_code == 200, moved.text
    assert moved.json()["statusReason"]["coding"][0]["code"] == "no-capacity"
    request = ehr.get(f"/ServiceRequest/{world.referral_a.id}").json()
    assert request["status"] == "active"
    with owner_engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind FROM notifications")).scalars().all()
    assert "provider-declined" in kinds


# 5
def test_rejected_without_status_reason_is_422_and_changes_nothing(ehr, world):
    before = _version(ehr.get(f"/Task/{world.referral_a.id}"))
    refused = ehr.move(world.referral_a.id, "declined")
    assert refused.status_code == 422
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert _version(ehr.get(f"/Task/{world.referral_a.id}")) == before


# 6
def test_redirected_with_redirected_to(ehr, world, login_as):
    moved = ehr.move(
        world.referral_a.id,
        "redirected",
        reason={"text": "family lives closer to another clinic"},
        outputs=[output("redirected-to", valueString="Lakeside Family Clinic")],
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["output"][0]["valueString"] == "Lakeside Family Clinic"
    assert _api_referral(login_as, world.referral_a.id)["redirected_to"] == (
        "Lakeside Family Clinic"
    )


def _schedule(ehr, referral_id, at: str):
    return ehr.move(referral_id, "scheduled", outputs=[output("appointment", valueDateTime=at)])


# 7
def test_scheduled_no_show_rescheduled_are_three_events(ehr, world, owner_engine):
    assert ehr.move(world.referral_a.id, "accepted").status_code == 200
    before = len(_events(owner_engine, world.referral_a.id))
    first = _schedule(ehr, world.referral_a.id, "2030-01-10T15:00:00Z")
    assert first.status_code == 200, first.text
    assert ehr.move(world.referral_a.id, "no-show").status_code == 200
    again = _schedule(ehr, world.referral_a.id, "2030-01-17T15:00:00Z")
    assert again.status_code == 200, again.text
    assert again.json()["output"][0]["valueDateTime"].startswith("2030-01-17T15:00:00")
    events = _events(owner_engine, world.referral_a.id)[before:]
    assert [e[0] for e in events] == ["scheduled", "no-show", "scheduled"]


# 8
def test_requested_to_completed_is_an_illegal_jump(ehr, world):
    refused = ehr.move(world.referral_a.id, "closed-completed")
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["code"] == "business-rule"


# 9
def test_completed_is_terminal(ehr, world):
    for step in ("accepted", "closed-completed"):
        assert ehr.move(world.referral_a.id, step).status_code == 200
    refused = _schedule(ehr, world.referral_a.id, "2030-01-10T15:00:00Z")
    assert refused.status_code == 422
    assert "cannot change" in refused.json()["issue"][0]["diagnostics"]


# 10
@pytest.mark.parametrize("business", ["withdrawn", None], ids=["cancelled", "entered-in-error"])
def test_provider_cannot_cancel_or_enter_in_error(ehr, world, business):
    status = "cancelled" if business else "entered-in-error"
    refused = ehr.move(
        world.referral_a.id, business, status=status, reason={"text": "provider tried"}
    )
    assert refused.status_code == 422, refused.text


# 11
def test_stale_if_match_is_412_and_changes_nothing(ehr, world):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    assert ehr.move(world.referral_a.id, "received").status_code == 200
    body = set_status(read.json(), "accepted")
    stale = ehr.put(f"/Task/{world.referral_a.id}", body, read.headers["ETag"])
    assert stale.status_code == 412
    assert stale.json()["issue"][0]["code"] == "conflict"
    now = ehr.get(f"/Task/{world.referral_a.id}").json()
    assert now["businessStatus"]["coding"][0]["code"] == "received"


# 12
def test_put_without_if_match_is_428(ehr, world):
    body = set_status(ehr.get(f"/Task/{world.referral_a.id}").json(), "received")
    refused = ehr.put(f"/Task/{world.referral_a.id}", body)
    assert refused.status_code == 428


# 13
@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.update({"for": {"reference": "Patient/00000000-0000-0000-0000-000000000001"}}),
        lambda t: t.update({"focus": {"reference": "ServiceRequest/x"}}),
        lambda t: t.update({"owner": {"reference": "Organization/someone-else"}}),
        lambda t: t.update({"note": [{"text": "the student disclosed ..."}]}),
    ],
    ids=["for", "focus", "owner", "note"],
)
def test_changing_for_focus_owner_or_adding_note_is_422(ehr, world, change):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    body = set_status(read.json(), "received")
    change(body)
    refused = ehr.put(f"/Task/{world.referral_a.id}", body, read.headers["ETag"])
    assert refused.status_code == 422, refused.text
    assert _version(ehr.get(f"/Task/{world.referral_a.id}")) == _version(read)


# 14
def test_malformed_json_is_400(ehr, world):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    refused = ehr.put(
        f"/Task/{world.referral_a.id}", '{"resourceType": "Task",', read.headers["ETag"]
    )
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["code"] == "structure"


# 15
def test_service_request_body_on_a_task_is_400(ehr, world):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    request = ehr.get(f"/ServiceRequest/{world.referral_a.id}").json()
    refused = ehr.put(f"/Task/{world.referral_a.id}", request, read.headers["ETag"])
    assert refused.status_code == 400


# 16
@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.update({"status": "bogus"}),
        lambda t: t.update({"colour": "blue"}),
        lambda t: t.update({"businessStatus": business_status("teleported")}),
    ],
    ids=["bogus-status", "unknown-element", "unknown-business-status"],
)
def test_bad_code_or_unknown_element_is_400(ehr, world, change):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    body = read.json()
    change(body)
    refused = ehr.put(f"/Task/{world.referral_a.id}", body, read.headers["ETag"])
    assert refused.status_code == 400, refused.text


# 17
def test_two_mib_body_is_413_unparsed(ehr, world):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    huge = '{"resourceType": "Task", "padding": "' + "x" * (2 * 1024 * 1024) + '"}'
    refused = ehr.put(f"/Task/{world.referral_a.id}", huge, read.headers["ETag"])
    assert refused.status_code == 413
    assert refused.json()["resourceType"] == "OperationOutcome"


# 18
def test_text_plain_is_415(ehr, world):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    refused = ehr.put(
        f"/Task/{world.referral_a.id}",
        json.dumps(read.json()),
        read.headers["ETag"],
        headers={"Content-Type": "text/plain"},
    )
    assert refused.status_code == 415


# 19
def test_other_providers_or_tenants_task_is_404_like_missing_and_audited(ehr, world, owner_engine):
    foreign = ehr.get(f"/Task/{world.referral_b.id}")
    missing = ehr.get("/Task/00000000-0000-4000-8000-000000000000")
    assert foreign.status_code == missing.status_code == 404
    strip = lambda r: r.text.replace(str(world.referral_b.id), "").replace(  # noqa: E731
        "00000000-0000-4000-8000-000000000000", ""
    )
    assert strip(foreign) == strip(missing)
    with owner_engine.connect() as conn:
        refused = conn.execute(
            text("SELECT object_id, acting_for FROM audit_log WHERE action = 'read-refused'")
        ).all()
    assert (str(world.referral_b.id), f"provider:{world.pa.id}") in [tuple(r) for r in refused]


# 20
def test_no_expired_or_orphaned_token_is_401(live_server, fhir_as, world, owner_engine):
    from tests.fhir_gateway.conftest import Fhir

    anonymous = Fhir(live_server, None).get(f"/Task/{world.referral_a.id}")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert Fhir(live_server, "forged").get("/Task").status_code == 401
    district = fhir_as(tenant_id=world.tenant_b.id, name="SIS")
    assert district.get("/Task").status_code == 200
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenants SET active = false WHERE id = :id"), {"id": world.tenant_b.id}
        )
    assert district.get("/Task").status_code == 401
    provider = fhir_as(provider_id=world.pa.id, name="EHR-2")
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE oauth_tokens SET expires_at = now() - interval '1 second'"))
    assert provider.get("/Task").status_code == 401


# 21
def test_read_only_token_gets_but_cannot_put(fhir_as, world):
    reader = fhir_as(provider_id=world.pa.id, scope="system/Task.rs")
    read = reader.get(f"/Task/{world.referral_a.id}")
    assert read.status_code == 200
    body = set_status(read.json(), "received")
    refused = reader.put(f"/Task/{world.referral_a.id}", body, read.headers["ETag"])
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["code"] == "forbidden"


# 22
def test_assertion_an_hour_ahead_from_discovery_is_invalid_client(live_server, world):
    discovered = requests.get(
        f"{live_server.url}/fhir/.well-known/smart-configuration", timeout=10
    ).json()
    client = register_client(live_server.app, provider_id=world.pa.id)
    auth = SmartPrivateKeyJWT(discovered["token_endpoint"], client.key, lifetime=3600)
    from authlib.integrations.requests_client import OAuth2Session

    with OAuth2Session(
        client.client_id, client.key, token_endpoint_auth_method="private_key_jwt"
    ) as s:
        s.register_client_auth_method(auth)
        with pytest.raises(Exception, match="invalid_client"):
            s.fetch_token(discovered["token_endpoint"], grant_type="client_credentials")


# 23
def test_send_without_active_consent_is_refused_and_nothing_is_shared(
    app, ehr, world, api_as, owner_engine
):
    from baton.tenants.context import acting_as
    from tests.factories import make_concern, principal_of

    student = world.students_a[1]  # no consent recorded for this student
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        from baton.platform.extensions import db

        concern_id = make_concern(student.id, daily_functioning=True).id
        db.session.commit()
    with owner_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM referrals")).scalar()
        notes = conn.execute(text("SELECT count(*) FROM notifications")).scalar()
    refused = api_as("navigator@a.test").post(
        "/api/v1/referrals",
        json={
            "student_id": str(student.id),
            "concern_id": str(concern_id),
            "provider_id": str(world.pa.id),
        },
    )
    assert refused.status_code == 403
    assert "record the family's consent" in refused.json["detail"]
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM referrals")).scalar() == before
        assert conn.execute(text("SELECT count(*) FROM notifications")).scalar() == notes
    tasks = ehr.get(f"/Task?patient=Patient/{student.id}").json()
    assert tasks.get("entry", []) == []


# 24
def test_revoked_consent_cancels_task_revokes_request_and_closes_patient(app, ehr, world, api_as):
    revoked = api_as("navigator@a.test").post(
        f"/api/v1/consents/{world.consent_a.id}/revoke", json={"reason": "family asked"}
    )
    assert revoked.status_code == 200, revoked.json
    task = ehr.get(f"/Task/{world.referral_a.id}")
    body = task.json()
    assert (body["status"], body["businessStatus"]["coding"][0]["code"]) == (
        "cancelled",
        "consent-revoked",
    )
    assert body["input"][0]["valueBoolean"] is False  # a stub: nothing consent-bound left
    assert ehr.get(f"/ServiceRequest/{world.referral_a.id}").json()["status"] == "revoked"
    assert ehr.get(f"/Patient/{world.referral_a.student_id}").status_code == 403
    assert ehr.get(f"/Consent/{world.consent_a.id}").status_code == 403
    put = ehr.put(
        f"/Task/{world.referral_a.id}", set_status(body, "accepted"), task.headers["ETag"]
    )
    assert put.status_code == 422


# 25
def test_without_feedback_consent_engaged_is_422_but_closure_passes(app, fhir_as, world):
    referral_id, _, _ = make_referral(app, world, share=("referral-reason",))
    ehr = fhir_as(provider_id=world.pa.id)
    task = ehr.get(f"/Task/{referral_id}").json()
    assert task["input"][0]["valueBoolean"] is False
    assert ehr.move(referral_id, "accepted").status_code == 200
    assert ehr.move(referral_id, "engaged").status_code == 422
    refused = _schedule(ehr, referral_id, "2030-01-10T15:00:00Z")  # feedback too
    assert refused.status_code == 422
    assert "did not consent to status feedback" in refused.json()["issue"][0]["diagnostics"]
    assert ehr.move(referral_id, "closed-completed").status_code == 200


# 29
def test_history_lists_every_change_newest_first(ehr, world):
    for step in ("received", "accepted"):
        assert ehr.move(world.referral_a.id, step).status_code == 200
    time.sleep(0.01)
    history = ehr.get(f"/Task/{world.referral_a.id}/_history").json()
    assert history["type"] == "history"
    versions = [int(e["resource"]["meta"]["versionId"]) for e in history["entry"]]
    assert versions == sorted(versions, reverse=True)
    assert versions[-1] == 2  # version 1 was the district's draft, never the provider's
    statuses = [
        e["resource"].get("businessStatus", {}).get("coding", [{}])[0].get("code")
        for e in history["entry"]
    ]
    assert statuses == ["accepted", "received", "sent"]
    vread = ehr.get(f"/Task/{world.referral_a.id}/_history/{versions[1]}")
    assert vread.status_code == 200
    assert vread.json()["businessStatus"]["coding"][0]["code"] == "received"
    assert vread.headers["ETag"] == f'W/"{versions[1]}"'


def test_metadata_is_the_profiles_capability_statement(live_server):
    statement = requests.get(f"{live_server.url}/fhir/metadata", timeout=10).json()
    assert (statement["kind"], statement["fhirVersion"], statement["format"]) == (
        "instance",
        "4.0.1",
        ["json"],
    )
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert {i["code"] for i in task["interaction"]} == {
        "read", "vread", "update", "search-type", "history-instance",
    }  # fmt: skip
    assert task["versioning"] == "versioned-update" and task["updateCreate"] is False
    assert set(task["searchInclude"]) == {"Task:focus", "Task:patient"}
    assert statement["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    from tests.fhir_gateway.validation import assert_valid_fhir

    assert_valid_fhir(statement)


def test_smart_configuration_advertises_backend_services(live_server):
    config = requests.get(
        f"{live_server.url}/fhir/.well-known/smart-configuration", timeout=10
    ).json()
    assert config["token_endpoint"] == f"{live_server.url}/oauth/token"
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert "client_credentials" in config["grant_types_supported"]
    assert {"permission-v2", "permission-v1", "client-confidential-asymmetric"} <= set(
        config["capabilities"]
    )


def test_canonical_base_is_a_setting(live_server, ehr, world):
    live_server.app.config["FHIR_CANONICAL_BASE"] = "https://fhir.district-network.example"
    try:
        task = ehr.session.get(f"{ehr.base}/Task/{world.referral_a.id}", timeout=10).json()
    finally:
        live_server.app.config["FHIR_CANONICAL_BASE"] = BASE
    assert task["identifier"][0]["system"] == "https://fhir.district-network.example/sid/referral"
