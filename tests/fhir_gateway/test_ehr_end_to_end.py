"""A provider EHR end to end, played by fhirpy (a third-party FHIR client from PyPI) with a
token from Authlib's client: it polls, follows paging, accepts, schedules, reports a no-show,
reschedules and closes; after every step the district sees the status through the JSON API.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome

from tests.fhir_gateway.conftest import (
    BASE,
    business_status,
    make_referral,
    output,
)
from tests.fhir_gateway.validation import assert_valid_fhir
from tests.oauth_support import fetch_token, register_client


class Ehr:
    """How a provider EHR would drive Baton with fhirpy."""

    def __init__(self, server, client):
        token = fetch_token(server, client)["access_token"]  # a signed RS384 assertion
        self.base = f"{server.url}/fhir"
        self.auth = f"Bearer {token}"
        self.fhir = SyncFHIRClient(self.base, authorization=self.auth)

    def poll(self, owner, since: str, count: int = 100):
        """The profile's poll, following ``next`` through every page."""
        search = (
            self.fhir.resources("Task")
            .search(owner=f"Organization/{owner}", _lastUpdated=f"gt{since}")
            .sort("_lastUpdated")
            .include("Task", "focus")
            .include("Task", "patient")
            .limit(count)
        )
        first_page = search.fetch_raw()
        assert_valid_fhir(dict(first_page))
        return first_page, list(search)  # iterating follows Bundle.link next

    def update(self, task, business: str, status: str, outputs=None, reason=None):
        """PUT the Task back with If-Match: a client bound to this version for the call."""
        task["status"] = status
        task["businessStatus"] = business_status(business)
        if outputs is not None:
            task["output"] = outputs
        if reason is not None:
            task["statusReason"] = reason
        versioned = SyncFHIRClient(
            self.base,
            authorization=self.auth,
            extra_headers={"If-Match": f'W/"{task["meta"]["versionId"]}"'},
        )
        saved = versioned.resource("Task", **task.serialize())
        saved.save()  # PUT Task/{id}; the resource takes the server's answer
        assert_valid_fhir(saved.serialize())
        return saved


def test_provider_ehr_closes_the_loop_with_fhirpy(app, live_server, world, login_as):
    second_id, _, _ = make_referral(app, world, student=1)
    ehr = Ehr(live_server, register_client(live_server.app, provider_id=world.pa.id))
    district = login_as("navigator@a.test")

    def district_sees(status: str) -> None:
        seen = district.get(f"/api/v1/referrals/{world.referral_a.id}").json
        assert seen["status"] == status, seen

    first_page, tasks = ehr.poll(world.pa.id, "2020-01-01T00:00:00Z", count=1)
    assert {t.id for t in tasks} == {str(world.referral_a.id), str(second_id)}
    assert any(link["relation"] == "next" for link in first_page["link"])
    included = {e["resource"]["resourceType"] for e in first_page["entry"][1:]}
    assert included == {"ServiceRequest", "Patient"}
    cursor = datetime.fromisoformat(first_page["meta"]["lastUpdated"]) - timedelta(minutes=1)

    task = ehr.fhir.reference("Task", str(world.referral_a.id)).to_resource()
    task = ehr.update(task, "accepted", "accepted")
    district_sees("accepted")
    appointment = output("appointment", valueDateTime="2030-02-03T16:30:00-06:00")
    task = ehr.update(task, "scheduled", "in-progress", outputs=[appointment])
    district_sees("scheduled")
    task = ehr.update(task, "no-show", "in-progress")
    district_sees("no-show")
    rebooked = output("appointment", valueDateTime="2030-02-10T16:30:00-06:00")
    task = ehr.update(task, "scheduled", "in-progress", outputs=[rebooked])
    district_sees("scheduled")
    seen = district.get(f"/api/v1/referrals/{world.referral_a.id}").json
    assert seen["appointment_at"].startswith("2030-02-10T22:30:00")
    task = ehr.update(task, "closed-completed", "completed", outputs=[])
    district_sees("closed-completed")
    assert task["executionPeriod"]["start"] and task["executionPeriod"]["end"]

    # The next poll, from the last Bundle's time minus a minute, sees the closed Task.
    _, changed = ehr.poll(world.pa.id, cursor.isoformat())
    latest = {t.id: t for t in changed}[str(world.referral_a.id)]
    assert latest["status"] == "completed"
    assert latest["meta"]["versionId"] == task["meta"]["versionId"]

    # A stale update is refused, and fhirpy surfaces the OperationOutcome.
    stale = SyncFHIRClient(ehr.base, authorization=ehr.auth, extra_headers={"If-Match": 'W/"1"'})
    task["businessStatus"] = business_status("engaged")
    with pytest.raises(MultipleResourcesFound, match="stale"):  # fhirpy's name for a 412
        stale.resource("Task", **task.serialize()).save()
    task["status"], task["businessStatus"] = "in-progress", business_status("engaged")
    with pytest.raises(OperationOutcome, match="terminal|cannot change"):
        ehr.update(task, "engaged", "in-progress")
    history = ehr.fhir.execute(f"Task/{world.referral_a.id}/_history", method="get")
    codes = [
        e["resource"].get("businessStatus", {}).get("coding", [{}])[0].get("code")
        for e in history["entry"]
    ]
    assert codes[:5] == ["closed-completed", "scheduled", "no-show", "scheduled", "accepted"]
    assert BASE in history["entry"][0]["resource"]["businessStatus"]["coding"][0]["system"]
