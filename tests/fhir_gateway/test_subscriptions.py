"""Subscriptions Baton serves (fhir-profile.md §9, §13 scenarios 26-27): R4 backport,
rest-hook to an HTTPS receiver on loopback, id-only, handshake, heartbeat, durable event
numbers, ``$status``; delivered by RQ jobs from outbox rows. Every Bundle the receiver gets
is checked as valid R4 on arrival, and so is every body the Fhir client reads."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import text

from baton.fhir_gateway.subscriptions import (
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    PAYLOAD_CONTENT,
)
from baton.platform.models.base import utcnow
from tests.fhir_gateway.conftest import run_fhir_jobs

pytestmark = pytest.mark.usefixtures("redis_client")
TOPIC = "http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task"


def subscription(owner_id, endpoint: str, *, content="id-only", heartbeat=None) -> dict:
    channel = {
        "type": "rest-hook",
        "endpoint": endpoint,
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": content}]},
        "header": ["Authorization: Bearer receiver-secret"],
    }
    if heartbeat:
        channel["extension"] = [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": heartbeat}]
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Referrals for our clinic",
        "criteria": TOPIC,
        "_criteria": {
            "extension": [
                {"url": FILTER_CRITERIA, "valueString": f"Task?owner=Organization/{owner_id}"}
            ]
        },
        "channel": channel,
    }


def _parameters(bundle: dict) -> dict:
    status = bundle["entry"][0]["resource"]
    assert status["resourceType"] == "Parameters"
    return {p["name"]: p for p in status["parameter"]}


def _events(bundle: dict) -> list[dict]:
    status = bundle["entry"][0]["resource"]
    return [
        {part["name"]: part for part in p["part"]}
        for p in status["parameter"]
        if p["name"] == "notification-event"
    ]


@pytest.fixture
def active(ehr, world, receiver, push_ready):
    """pa's EHR holds an active subscription (handshake delivered)."""
    created = ehr.post("/Subscription", subscription(world.pa.id, receiver.url))
    assert created.status_code == 201, created.text
    run_fhir_jobs(push_ready)
    return created.json()["id"]


# 26
@pytest.mark.parametrize(
    "change, field",
    [
        (lambda s: s["channel"].update(endpoint="http://127.0.0.1:9/hook"), "channel.endpoint"),
        (
            lambda s: s["channel"]["_payload"]["extension"][0].update(valueCode="full-resource"),
            "channel.payload.content",
        ),
        (lambda s: s.update(criteria="http://example.org/SubscriptionTopic/Other"), "criteria"),
        (lambda s: s["channel"].update(type="websocket"), "channel.type"),
    ],
    ids=["http", "full-resource", "other-topic", "websocket"],
)
def test_subscriptions_baton_cannot_serve_are_422(ehr, world, change, field):
    body = subscription(world.pa.id, "https://127.0.0.1:9/hook")
    change(body)
    refused = ehr.post("/Subscription", body)
    assert refused.status_code == 422, refused.text
    assert any(field in (i.get("expression") or [""])[0] for i in refused.json()["issue"])
    assert ehr.get("/Subscription").json().get("entry", []) == []


# 26
def test_a_foreign_filter_is_422_and_a_district_cannot_subscribe(ehr, fhir_as, world):
    foreign = ehr.post("/Subscription", subscription(world.pb.id, "https://127.0.0.1:9/hook"))
    assert foreign.status_code == 422
    assert "Task?owner=Organization/" in foreign.text
    district = fhir_as(tenant_id=world.tenant_a.id, name="SIS")
    refused = district.post("/Subscription", subscription(world.pa.id, "https://127.0.0.1:9/h"))
    assert refused.status_code == 403


# 26
def test_a_valid_subscription_is_201_requested_then_active_after_its_handshake(
    ehr, world, receiver, push_ready
):
    created = ehr.post("/Subscription", subscription(world.pa.id, receiver.url))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "requested"
    assert created.headers["Location"].endswith(f"/fhir/Subscription/{body['id']}")
    assert "header" not in body["channel"]  # the subscriber's secret is not echoed
    run_fhir_jobs(push_ready)
    [(headers, handshake)] = receiver.received
    assert headers["Authorization"] == "Bearer receiver-secret"
    assert headers["Content-Type"].startswith("application/fhir+json")
    assert handshake["type"] == "history"
    params = _parameters(handshake)
    assert params["type"]["valueCode"] == "handshake"
    assert params["topic"]["valueCanonical"] == TOPIC
    assert params["subscription"]["valueReference"]["reference"].endswith(body["id"])
    read = ehr.get(f"/Subscription/{body['id']}")
    assert read.json()["status"] == "active" and read.headers["ETag"] == 'W/"1"'
    status = ehr.get(f"/Subscription/{body['id']}/$status").json()
    assert status["type"] == "searchset"
    params = _parameters(status)
    assert (params["status"]["valueCode"], params["type"]["valueCode"]) == (
        "active",
        "query-status",
    )
    assert params["events-since-subscription-start"]["valueString"] == "0"


def test_a_failed_handshake_leaves_the_subscription_in_error(ehr, world, receiver, push_ready):
    receiver.status = 500
    created = ehr.post("/Subscription", subscription(world.pa.id, receiver.url)).json()
    run_fhir_jobs(push_ready)
    read = ehr.get(f"/Subscription/{created['id']}").json()
    assert read["status"] == "error" and "500" in read["error"]


# 27
def test_each_task_change_is_one_id_only_notification_numbered_in_order(
    app, ehr, world, receiver, push_ready, active, owner_engine
):
    from tests.fhir_gateway.conftest import make_referral

    assert ehr.move(world.referral_a.id, "received").status_code == 200
    referral_id, _, _ = make_referral(app, world)  # a new Task for pa: sent
    with owner_engine.connect() as conn:  # written with the changes, before any delivery
        pending = conn.execute(
            text("SELECT event_number FROM fhir_outbox WHERE kind = 'notification'"
                 " ORDER BY event_number")
        ).scalars().all()  # fmt: skip
    assert pending == [1, 2]
    run_fhir_jobs(push_ready)
    notifications = receiver.of_type("event-notification")
    assert len(notifications) == 2
    numbered = [(_events(n)[0], _parameters(n)) for n in notifications]
    numbered.sort(key=lambda pair: int(pair[0]["event-number"]["valueString"]))
    focuses = [e["focus"]["valueReference"]["reference"] for e, _ in numbered]
    assert focuses == [
        f"{push_ready.url}/fhir/Task/{world.referral_a.id}",
        f"{push_ready.url}/fhir/Task/{referral_id}",
    ]
    assert [e["event-number"]["valueString"] for e, _ in numbered] == ["1", "2"]
    for bundle in notifications:  # id-only: the Task is named, never sent
        assert bundle["type"] == "history"
        assert [set(e) for e in bundle["entry"][1:]] == [{"fullUrl", "request", "response"}]
    assert ehr.move(world.referral_a.id, "accepted").status_code == 200
    run_fhir_jobs(push_ready)
    latest = receiver.of_type("event-notification")[-1]
    assert _events(latest)[0]["event-number"]["valueString"] == "3"
    assert _parameters(latest)["events-since-subscription-start"]["valueString"] == "3"
    status = ehr.get(f"/Subscription/{active}/$status").json()
    assert _parameters(status)["events-since-subscription-start"]["valueString"] == "3"
    run_fhir_jobs(push_ready)  # nothing is delivered twice
    assert len(receiver.of_type("event-notification")) == 3


def test_another_districts_changes_never_reach_the_subscriber(
    api_as, ehr, world, receiver, push_ready, active, owner_engine
):
    navigator_b = api_as("navigator@b.test")
    etag = navigator_b.get(f"/api/v1/referrals/{world.referral_b.id}").headers["ETag"]
    moved = navigator_b.post(
        f"/api/v1/referrals/{world.referral_b.id}/status",
        json={"status": "withdrawn", "reason": "moved"},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 200, moved.json
    run_fhir_jobs(push_ready)
    assert receiver.of_type("event-notification") == []
    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM fhir_outbox WHERE kind = 'notification'")
            ).scalar()
            == 0
        )


def test_heartbeats_follow_the_period(ehr, world, receiver, push_ready):
    created = ehr.post(
        "/Subscription", subscription(world.pa.id, receiver.url, heartbeat=60)
    ).json()
    assert created["channel"]["extension"][0]["valueUnsignedInt"] == 60
    now = utcnow()
    run_fhir_jobs(push_ready, at=now)
    run_fhir_jobs(push_ready, at=now + timedelta(seconds=30))
    assert receiver.of_type("heartbeat") == []
    run_fhir_jobs(push_ready, at=now + timedelta(seconds=61))
    [heartbeat] = receiver.of_type("heartbeat")
    assert _parameters(heartbeat)["status"]["valueCode"] == "active"


def test_a_failing_receiver_backs_off_then_the_notification_arrives(
    ehr, world, receiver, push_ready, active, owner_engine
):
    receiver.status = 503
    assert ehr.move(world.referral_a.id, "received").status_code == 200
    now = utcnow()
    run_fhir_jobs(push_ready, at=now)
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, attempts, last_error FROM fhir_outbox WHERE kind = 'notification'")
        ).one()
    assert (row.status, row.attempts) == ("pending", 1) and "503" in row.last_error
    receiver.status = 200
    run_fhir_jobs(push_ready, at=now + timedelta(minutes=3))
    assert len(receiver.of_type("event-notification")) == 1
    assert ehr.get(f"/Subscription/{active}").json()["status"] == "active"


def test_update_off_and_delete(ehr, world, receiver, push_ready, active, owner_engine):
    read = ehr.get(f"/Subscription/{active}")
    body = copy.deepcopy(read.json())
    body["status"] = "off"
    stale = ehr.put(f"/Subscription/{active}", body, 'W/"7"')
    assert stale.status_code == 412
    off = ehr.put(f"/Subscription/{active}", body, read.headers["ETag"])
    assert off.status_code == 200 and off.json()["status"] == "off"
    assert ehr.move(world.referral_a.id, "received").status_code == 200
    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM fhir_outbox WHERE kind = 'notification'")
            ).scalar()
            == 0
        )
    gone = ehr.session.delete(f"{ehr.base}/Subscription/{active}", timeout=10)
    assert gone.status_code == 200
    assert ehr.get(f"/Subscription/{active}").status_code == 404
    assert ehr.get("/Subscription").json().get("entry", []) == []


def test_another_providers_subscription_is_404_everywhere(fhir_as, world, receiver, active):
    other = fhir_as(provider_id=world.pb.id, name="EHR-B")
    for path in (f"/Subscription/{active}", f"/Subscription/{active}/$status"):
        assert other.get(path).status_code == 404, path
    missing = other.get("/Subscription/00000000-0000-4000-8000-000000000000")
    assert other.get(f"/Subscription/{active}").text.replace(active, "") == missing.text.replace(
        "00000000-0000-4000-8000-000000000000", ""
    )
    body = subscription(world.pb.id, "https://127.0.0.1:9/hook") | {"id": active}
    assert other.put(f"/Subscription/{active}", body).status_code == 404
    assert (
        other.session.delete(f"{other.base}/Subscription/{active}", timeout=10).status_code == 404
    )
    assert other.get("/Subscription").json().get("entry", []) == []
    district = fhir_as(tenant_id=world.tenant_a.id, name="SIS")
    assert district.get(f"/Subscription/{active}").status_code == 404


# §9: a subscription's end
def _with_end(body: dict, end) -> dict:
    return body | {"end": end.isoformat(timespec="seconds").replace("+00:00", "Z")}


def test_an_end_in_the_past_is_refused_on_create(ehr, world, owner_engine):
    past = utcnow() - timedelta(minutes=5)
    body = _with_end(subscription(world.pa.id, "https://h.test/h"), past)
    refused = ehr.post("/Subscription", body)
    assert refused.status_code == 422
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "end" in refused.text and "passed" in refused.text
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fhir_subscriptions")).scalar() == 0


def test_past_its_end_a_subscription_is_off_and_sends_no_heartbeat(
    app, ehr, world, receiver, push_ready
):
    end = utcnow() + timedelta(hours=1)
    body = _with_end(subscription(world.pa.id, receiver.url, heartbeat=60), end)
    created = ehr.post("/Subscription", body).json()
    assert created["end"].startswith(end.strftime("%Y-%m-%dT%H:%M"))
    now = utcnow()
    run_fhir_jobs(push_ready, at=now)  # the handshake
    run_fhir_jobs(push_ready, at=now + timedelta(minutes=30))  # heartbeats while it runs
    beats = len(receiver.of_type("heartbeat"))
    assert beats == 1
    run_fhir_jobs(push_ready, at=end + timedelta(seconds=1))
    run_fhir_jobs(push_ready, at=end + timedelta(hours=1))
    assert len(receiver.of_type("heartbeat")) == beats  # nothing after the end
    read = ehr.get(f"/Subscription/{created['id']}")
    assert read.json()["status"] == "off" and read.headers["ETag"] == 'W/"2"'
    status = ehr.get(f"/Subscription/{created['id']}/$status").json()
    assert _parameters(status)["status"]["valueCode"] == "off"
    # Switched off, it records nothing more, and cannot be restarted with the end it has.
    assert ehr.move(world.referral_a.id, "received").status_code == 200
    run_fhir_jobs(push_ready)
    assert receiver.of_type("event-notification") == []
    from baton.fhir_gateway.acting import as_provider
    from baton.fhir_gateway.subscriptions import parse_subscription
    from baton.platform.errors import InvalidInput
    from baton.platform.extensions import db
    from baton.platform.models.base import travel_to
    from baton.platform.services import subscriptions as svc

    with app.app_context(), travel_to(end + timedelta(hours=1)), as_provider(world.pa.id, "fhir"):
        restart = parse_subscription(read.json() | {"status": "requested"})
        with pytest.raises(InvalidInput) as refused:
            svc.update_subscription(created["id"], restart)
        assert "passed" in refused.value.fields["end"]
        as_read = svc.update_subscription(created["id"], parse_subscription(read.json()))
        assert as_read.status == "off"  # its owner may PUT back what it read
        db.session.rollback()


def test_a_notification_still_pending_at_the_end_is_not_delivered(
    app, ehr, world, receiver, push_ready, owner_engine
):
    end = utcnow() + timedelta(hours=1)
    created = ehr.post("/Subscription", _with_end(subscription(world.pa.id, receiver.url), end))
    created = created.json()
    now = utcnow()
    run_fhir_jobs(push_ready, at=now)
    receiver.status = 503  # the subscriber is down when the Task changes
    assert ehr.move(world.referral_a.id, "received").status_code == 200
    run_fhir_jobs(push_ready, at=now + timedelta(minutes=1))
    receiver.status = 200
    run_fhir_jobs(push_ready, at=end + timedelta(minutes=5))  # the retry, too late
    assert receiver.of_type("event-notification") == []
    with owner_engine.connect() as conn:
        message = conn.execute(
            text("SELECT status, last_error FROM fhir_outbox WHERE kind = 'notification'")
        ).one()
    assert (message.status, message.last_error) == ("skipped", "the subscription's end has passed")
    assert ehr.get(f"/Subscription/{created['id']}").json()["status"] == "off"
    # And a change after the end records no notification at all (the clock, not a job, says so).
    from baton.fhir_gateway.acting import as_provider
    from baton.platform.extensions import db
    from baton.platform.models.base import travel_to
    from baton.platform.services import referrals

    with owner_engine.begin() as conn:  # as if no delivery run had switched it off yet
        conn.execute(
            text("UPDATE fhir_subscriptions SET status = 'active' WHERE id = :s"),
            {"s": created["id"]},
        )
    with app.app_context(), travel_to(end + timedelta(hours=1)), as_provider(world.pa.id, "fhir"):
        referrals.transition_referral(world.referral_a.id, "accepted")
        db.session.commit()
    with owner_engine.connect() as conn:
        count = "SELECT count(*) FROM fhir_outbox WHERE kind = 'notification'"
        assert conn.execute(text(count)).scalar() == 1  # only the one skipped above
