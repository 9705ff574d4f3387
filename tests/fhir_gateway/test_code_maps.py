"""A provider's map from its EHR's own codes to Baton's (fhir-profile.md §4: foreign codes,
e.g. BSeR ``5.1.2``, via a per-partner map), on the hosted ``PUT /fhir/Task``; configured by
the CLI and by the provider admin's page. The mirror path is in test_push.py."""

from __future__ import annotations

import copy

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.conftest import csrf_token
from tests.fhir_gateway.conftest import BASE, BSER, EHR_REASONS, PA_MAP, make_referral, set_map


@pytest.fixture
def pa_map(app, world):
    result = set_map(app, "pa", PA_MAP)
    assert result.exit_code == 0, result.output


def _foreign(task: dict, status: str, code: str, reason: dict | None = None) -> dict:
    body = copy.deepcopy(task)
    body["status"] = status
    body["businessStatus"] = {
        "coding": [{"system": BSER, "code": code, "display": "EHR's own wording"}]
    }
    if reason is not None:
        body["statusReason"] = reason
    return body


def _put_foreign(ehr, referral_id, status: str, code: str, reason=None):
    read = ehr.get(f"/Task/{referral_id}")
    assert read.status_code == 200, read.text
    body = _foreign(read.json(), status, code, reason)
    return ehr.put(f"/Task/{referral_id}", body, read.headers["ETag"])


def _events(owner_engine, referral_id) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT from_status, to_status, surface, actor_kind, reason, detail"
                " FROM referral_events WHERE referral_id = :r ORDER BY seq"
            ),
            {"r": referral_id},
        ).all()


def _status_audits(owner_engine, referral_id) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT actor_kind, surface, detail FROM audit_log"
                " WHERE action = 'status' AND object_id = :r ORDER BY at"
            ),
            {"r": str(referral_id)},
        ).all()


def test_a_mapped_bser_code_moves_the_referral_as_the_native_code_would(
    app, ehr, world, owner_engine, pa_map
):
    native_id, _, _ = make_referral(app, world)
    native = ehr.move(native_id, "received")
    foreign = _put_foreign(ehr, world.referral_a.id, "requested", "5.1.2")
    assert native.status_code == foreign.status_code == 200, foreign.text
    assert (
        foreign.json()["businessStatus"]
        == native.json()["businessStatus"]
        == {
            "coding": [
                {
                    "system": f"{BASE}/CodeSystem/referral-business-status",
                    "code": "received",
                    "display": "Received",
                }
            ]
        }
    )
    assert foreign.headers["ETag"] == native.headers["ETag"]  # both one version on
    native_event, foreign_event = (
        _events(owner_engine, native_id)[-1],
        _events(owner_engine, world.referral_a.id)[-1],
    )
    assert foreign_event[:5] == native_event[:5] == ("sent", "received", "fhir", "provider", None)
    sent = [{"element": "businessStatus", "system": BSER, "code": "5.1.2", "mapped_to": "received"}]
    assert foreign_event.detail == {"foreign_codes": sent}
    assert "foreign_codes" not in native_event.detail
    audit = _status_audits(owner_engine, world.referral_a.id)[-1]
    assert (audit.actor_kind, audit.surface) == ("provider", "fhir")
    assert audit.detail == {"from": "sent", "to": "received", "foreign_codes": sent}
    native_audit = _status_audits(owner_engine, native_id)[-1]
    assert native_audit.detail == {"from": "sent", "to": "received"}
    history = ehr.get(f"/Task/{world.referral_a.id}/_history").json()
    assert history["entry"][0]["resource"]["businessStatus"]["coding"][0]["code"] == "received"
    events = _events(owner_engine, world.referral_a.id)
    again = _put_foreign(ehr, world.referral_a.id, "requested", "5.1.2")  # the same status
    assert again.status_code == 200 and again.headers["ETag"] == foreign.headers["ETag"]
    assert _events(owner_engine, world.referral_a.id) == events


def test_the_referral_page_shows_what_the_ehr_sent(app, ehr, world, pa_map, login_as):
    assert _put_foreign(ehr, world.referral_a.id, "requested", "5.1.2").status_code == 200
    page = login_as("navigator@a.test").get(f"/referrals/{world.referral_a.id}").text
    assert f"the EHR sent {BSER}|5.1.2 (businessStatus, read as received)" in page


def test_a_mapped_decline_and_its_mapped_reason(app, ehr, world, owner_engine, pa_map):
    reason = {"coding": [{"system": EHR_REASONS, "code": "CAP"}], "text": "Waitlist full"}
    moved = _put_foreign(ehr, world.referral_a.id, "rejected", "5.2", reason)
    assert moved.status_code == 200, moved.text
    task = moved.json()
    assert task["businessStatus"]["coding"][0]["code"] == "declined"
    assert task["statusReason"]["coding"][0]["system"] == f"{BASE}/CodeSystem/decline-reason"
    assert task["statusReason"]["coding"][0]["code"] == "no-capacity"
    event = _events(owner_engine, world.referral_a.id)[-1]
    assert (event.to_status, event.reason) == ("declined", "no-capacity")
    assert [(c["element"], c["code"], c["mapped_to"]) for c in event.detail["foreign_codes"]] == [
        ("businessStatus", "5.2", "declined"),
        ("statusReason", "CAP", "no-capacity"),
    ]


def test_an_unmapped_foreign_code_is_refused_naming_it_and_nothing_changes(
    ehr, world, owner_engine, pa_map
):
    before = ehr.get(f"/Task/{world.referral_a.id}")
    audits = _status_audits(owner_engine, world.referral_a.id)
    events = _events(owner_engine, world.referral_a.id)
    refused = _put_foreign(ehr, world.referral_a.id, "requested", "9.9.9")
    assert refused.status_code == 400
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert f"{BSER}|9.9.9" in outcome["issue"][0]["diagnostics"]
    after = ehr.get(f"/Task/{world.referral_a.id}")
    assert after.headers["ETag"] == before.headers["ETag"]
    assert _events(owner_engine, world.referral_a.id) == events
    assert _status_audits(owner_engine, world.referral_a.id) == audits


def test_a_mapped_code_that_contradicts_batons_own_coding_is_refused(ehr, world, pa_map):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    body = _foreign(read.json(), "requested", "5.1.2")
    body["businessStatus"]["coding"].append(
        {"system": f"{BASE}/CodeSystem/referral-business-status", "code": "accepted"}
    )
    refused = ehr.put(f"/Task/{world.referral_a.id}", body, read.headers["ETag"])
    assert refused.status_code == 400
    assert "accepted, received" in refused.json()["issue"][0]["diagnostics"]


def test_one_providers_map_does_not_apply_to_another(app, fhir_as, ehr, world, pa_map):
    ehr_b = fhir_as(provider_id=world.pb.id, name="EHR-B")
    refused = _put_foreign(ehr_b, world.referral_b.id, "requested", "5.1.2")
    assert refused.status_code == 400 and "5.1.2" in refused.text
    # pb's EHR means something else by the same code: each provider's own map applies.
    assert set_map(app, "pb", f"{BSER}|5.1.2 = accepted\n").exit_code == 0
    assert _put_foreign(ehr_b, world.referral_b.id, "accepted", "5.1.2").status_code == 200
    moved = _put_foreign(ehr, world.referral_a.id, "requested", "5.1.2")
    assert moved.json()["businessStatus"]["coding"][0]["code"] == "received"
    b_task = ehr_b.get(f"/Task/{world.referral_b.id}").json()
    assert b_task["businessStatus"]["coding"][0]["code"] == "accepted"


def test_a_districts_client_gets_no_providers_map(fhir_as, world, pa_map):
    district = fhir_as(tenant_id=world.tenant_a.id, name="SIS")
    refused = _put_foreign(district, world.referral_a.id, "cancelled", "5.1.2")
    assert refused.status_code == 400 and "5.1.2" in refused.text


# ---------------------------------------------------------------- configuration


def test_the_cli_refuses_bad_lines_naming_each_and_keeps_the_old_map(
    app, world, owner_engine, pa_map
):
    bad = "\n".join(
        [
            f"{BSER}|5.1.2 = received",
            "no separator here",
            f"{BSER}|5.3 = withdrawn",
            f"{BSER}|5.1.2 = accepted",
            f"{BASE}/CodeSystem/referral-business-status|sent = received",
            "not-a-uri|x = accepted",
        ]
    )
    result = set_map(app, "pa", bad)
    assert result.exit_code == 2
    for expected in (
        "line 2: write system|code = baton-code",
        "line 3: 'withdrawn' is not a status a provider sets",
        "line 4: " + f"{BSER}|5.1.2 is mapped on line 1 too",
        "line 5: Baton's own codes need no mapping",
        "line 6: 'not-a-uri' is not a code system URI",
    ):
        assert expected in result.output, (expected, result.output)
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT foreign_code, code FROM fhir_code_maps WHERE provider_id = :p"),
            {"p": world.pa.id},
        ).all()
    assert sorted(rows) == [("5.1.2", "received"), ("5.2", "declined"), ("CAP", "no-capacity")]
    from baton.platform.commands import show_fhir_code_map

    with app.app_context():
        shown = CliRunner().invoke(show_fhir_code_map, ["--provider", "pa"])
    assert shown.exit_code == 0
    assert shown.output.splitlines() == [
        f"{BSER}|5.1.2 = received",
        f"{BSER}|5.2 = declined",
        f"{EHR_REASONS}|CAP = no-capacity",
    ]
    assert set_map(app, "nobody", "").exit_code == 2
    cleared = set_map(app, "pa", "")
    assert cleared.exit_code == 0 and "0 code(s) mapped" in cleared.output


def _post_map(client, lines: str):
    token = csrf_token(client.get("/admin/apps/fhir-codes").text)
    return client.post("/admin/apps/fhir-codes", data={"mappings": lines, "csrf_token": token})


def test_the_provider_admin_edits_its_own_map_with_field_messages(
    app, world, login_as, owner_engine
):
    from baton.platform.services import provisioning as prov
    from baton.tenants.context import system_scope
    from tests.factories import PASSWORD

    admin = login_as("provider_admin@pa.test")
    assert "FHIR code map" in admin.get("/admin/apps").text
    bad = _post_map(admin, f"{BSER}|5.1.2 = received\n{BSER}|5.2 = maybe\n")
    assert bad.status_code == 422
    assert "line 2: &#39;maybe&#39; is not a status a provider sets" in bad.text
    assert f"{BSER}|5.2 = maybe" in bad.text  # what was typed stays in the box
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fhir_code_maps")).scalar() == 0
    saved = _post_map(admin, PA_MAP)
    assert saved.status_code == 302
    page = admin.get(saved.headers["Location"]).text
    assert "Saved." in page and f"{BSER}|5.1.2 = received" in page
    with owner_engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT actor_kind, object_id, detail FROM audit_log"
                " WHERE object_type = 'fhir-code-map'"
            )
        ).one()
    assert audit == ("provider", str(world.pa.id), {"lines": 3})
    with app.app_context(), system_scope("test: pb's admin"):
        prov.create_user(
            "provider_admin@pb.test", "Admin B", PASSWORD, "provider_admin", provider=world.pb
        )
        from baton.platform.extensions import db

        db.session.commit()
    other = login_as("provider_admin@pb.test")
    assert f"{BSER}|5.1.2" not in other.get("/admin/apps/fhir-codes").text
    assert _post_map(other, f"{BSER}|7 = accepted\n").status_code == 302
    with owner_engine.connect() as conn:
        by_provider = conn.execute(
            text("SELECT provider_id, count(*) FROM fhir_code_maps GROUP BY provider_id")
        ).all()
    assert dict(by_provider) == {world.pa.id: 3, world.pb.id: 1}
    assert f"{BSER}|7" not in admin.get("/admin/apps/fhir-codes").text
    for email in ("district_admin@a.test", "intake@pa.test"):
        assert login_as(email).get("/admin/apps/fhir-codes").status_code == 403, email
