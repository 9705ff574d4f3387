"""Contact attempts as Communication (§7): created through services/contact.py, read back,
searched by the ServiceRequest or Task; clinical free text and unsafe channels refused."""

from __future__ import annotations

from tests.fhir_gateway.conftest import BASE, set_status


def _attempt(world, *, status="not-done", reason="no-answer", mode="PHONE", **extra):
    body = {
        "resourceType": "Communication",
        "basedOn": [{"reference": f"ServiceRequest/{world.referral_a.id}"}],
        "partOf": [{"reference": f"Task/{world.referral_a.id}"}],
        "status": status,
        "medium": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                        "code": mode,
                    }
                ]
            }
        ],
        "recipient": [
            {"identifier": {"system": f"{BASE}/sid/caregiver", "value": str(world.caregiver_a)}}
        ],
        **extra,
    }
    if reason:
        body["statusReason"] = {
            "coding": [{"system": f"{BASE}/CodeSystem/contact-outcome", "code": reason}]
        }
    return body


def test_attempt_is_logged_read_and_searched(ehr, world, login_as):
    patient = ehr.get(f"/Patient/{world.referral_a.student_id}").json()
    assert patient["contact"][0]["id"] == str(world.caregiver_a)  # how the EHR names them
    created = ehr.post("/Communication", _attempt(world))
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/Communication/{created.json()['id']}")
    read = ehr.get(f"/Communication/{created.json()['id']}").json()
    assert (read["status"], read["statusReason"]["coding"][0]["code"]) == ("not-done", "no-answer")
    reached = ehr.post("/Communication", _attempt(world, status="completed", reason=None))
    assert reached.status_code == 201, reached.text
    found = ehr.get(f"/Communication?part-of=Task/{world.referral_a.id}").json()
    assert len(found["entry"]) == 2
    seen = login_as("navigator@a.test").get(f"/api/v1/referrals/{world.referral_a.id}/attempts")
    assert [a["outcome"] for a in seen.json] == ["no-answer", "reached"]
    referral = login_as("navigator@a.test").get(f"/api/v1/referrals/{world.referral_a.id}").json
    assert referral["contact_confirmed_at"] is not None


def test_payload_is_refused_and_nothing_logged(ehr, world):
    refused = ehr.post("/Communication", _attempt(world, payload=[{"contentString": "notes"}]))
    assert refused.status_code == 422
    assert (
        ehr.get(f"/Communication?based-on=ServiceRequest/{world.referral_a.id}")
        .json()
        .get("entry", [])
        == []
    )


def test_unsafe_channel_and_inconsistent_outcome_are_422_and_bad_codes_400(ehr, world):
    assert ehr.post("/Communication", _attempt(world, mode="EMAILWRIT")).status_code == 422
    assert (
        ehr.post(
            "/Communication", _attempt(world, status="completed", reason="no-answer")
        ).status_code
        == 422
    )
    assert ehr.post("/Communication", _attempt(world, reason="teleported")).status_code == 400


def test_a_task_timestamp_spelled_differently_is_the_same_timestamp(ehr, world):
    read = ehr.get(f"/Task/{world.referral_a.id}")
    body = set_status(read.json(), "received")
    body["authoredOn"] = body["authoredOn"].replace("Z", "+00:00")
    moved = ehr.put(f"/Task/{world.referral_a.id}", body, read.headers["ETag"])
    assert moved.status_code == 200, moved.text
