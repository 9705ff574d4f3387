"""A district's own client on /fhir: it sees its district's Tasks (drafts included) and makes
the district's moves (withdraw, enter in error) through the same state machine."""

from __future__ import annotations

from tests.fhir_gateway.conftest import set_status


def test_district_withdraws_and_the_provider_sees_it(fhir_as, ehr, world):
    district = fhir_as(tenant_id=world.tenant_a.id, name="SIS")
    tasks = district.get(f"/Task?requester=Organization/{world.tenant_a.id}").json()
    assert [e["resource"]["id"] for e in tasks["entry"]] == [str(world.referral_a.id)]
    withdrawn = district.move(
        world.referral_a.id, "withdrawn", reason={"text": "family moved out of the district"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "cancelled"
    seen = ehr.get(f"/Task/{world.referral_a.id}").json()
    assert seen["businessStatus"]["coding"][0]["code"] == "withdrawn"
    assert seen["statusReason"]["text"] == "family moved out of the district"
    assert ehr.get(f"/ServiceRequest/{world.referral_a.id}").json()["status"] == "revoked"


def test_district_cannot_make_the_providers_moves(fhir_as, world):
    district = fhir_as(tenant_id=world.tenant_a.id, name="SIS")
    read = district.get(f"/Task/{world.referral_a.id}")
    refused = district.put(
        f"/Task/{world.referral_a.id}", set_status(read.json(), "accepted"), read.headers["ETag"]
    )
    assert refused.status_code == 422
