"""The closed loop through the JSON API, on PostgreSQL as the RLS-bound app role."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from tests.factories import make_concern, principal_of

STUDENT_REFS = "/api/v1/referrals"


def _concern(app, world, *, high_need=False, **yes):
    from baton.tenants.context import acting_as

    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        from baton.platform.extensions import db

        concern = make_concern(
            world.students_a[1].id, high_need=high_need, **(yes or {"daily_functioning": True})
        )
        db.session.commit()
        return concern.id


def _consent(api, world, share=("referral-reason", "contact-details", "status-feedback"), **extra):
    caregiver = api.get(f"/api/v1/students/{world.students_a[1].id}/caregivers").json[0]
    body = {
        "student_id": str(world.students_a[1].id),
        "provider_id": str(world.pa.id),
        "consenter": "caregiver",
        "caregiver_id": caregiver["id"],
        "share_classes": list(share),
        "method": "signed",
        **extra,
    }
    response = api.post("/api/v1/consents", json=body)
    assert response.status_code == 201, response.json
    return response.json, caregiver


def _create(api, world, concern_id, headers=None, **extra):
    body = {
        "student_id": str(world.students_a[1].id),
        "concern_id": str(concern_id),
        "provider_id": str(world.pa.id),
        "caregiver_present": True,
        **extra,
    }
    return api.post(STUDENT_REFS, json=body, headers=headers)


def _count(owner_engine, table: str, where: str = "true") -> int:
    with owner_engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar()


def _move(api, referral_id, status, etag=None, **body):
    etag = etag or api.get(f"{STUDENT_REFS}/{referral_id}").headers["ETag"]
    return api.post(
        f"{STUDENT_REFS}/{referral_id}/status",
        json={"status": status, **body},
        headers={"If-Match": etag},
    )


def test_send_without_consent_is_refused_and_creates_nothing(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    concern_id = _concern(app, world)
    before = [_count(owner_engine, t) for t in ("referrals", "referral_events")]
    response = _create(api, world, concern_id)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/consent-required")
    assert "Provider Alpha" in response.json["detail"]
    assert [_count(owner_engine, t) for t in ("referrals", "referral_events")] == before
    assert (
        _count(
            owner_engine,
            "audit_log",
            "object_type = 'referral' AND action = 'create'"
            f" AND detail::text LIKE '%{world.students_a[1].id}%'",
        )
        == 0
    )


def test_full_loop_with_consent(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    _consent(api, world)
    response = _create(api, world, _concern(app, world, high_need=True))
    assert response.status_code == 201, response.json
    referral = response.json
    assert referral["status"] == "sent" and referral["task_status"] == "requested"
    assert response.headers["ETag"] == f'W/"{referral["version"]}"'
    assert response.headers["Location"].endswith(referral["id"])
    sent_at = datetime.fromisoformat(referral["sent_at"])
    assert datetime.fromisoformat(referral["contact_due_at"]) == sent_at + timedelta(hours=24)
    assert datetime.fromisoformat(referral["schedule_due_at"]) == sent_at + timedelta(days=7)
    provider = api_as("intake@pa.test")
    assert _move(provider, referral["id"], "received").status_code == 200
    assert _move(provider, referral["id"], "accepted").status_code == 200
    when = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    moved = _move(
        provider,
        referral["id"],
        "scheduled",
        appointment_at=when,
        appointment_place="Alpha clinic, Room 2",
        what_to_bring="Insurance card",
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["schedule_due_at"] is None
    events = api.get(f"{STUDENT_REFS}/{referral['id']}/events").json
    assert [(e["from_status"], e["to_status"], e["actor_kind"]) for e in events] == [
        (None, "draft", "district"),
        ("draft", "sent", "district"),
        ("sent", "received", "provider"),
        ("received", "accepted", "provider"),
        ("accepted", "scheduled", "provider"),
    ]
    assert all(e["surface"] == "api" for e in events)
    assert (
        _count(owner_engine, "audit_log", f"object_id = '{referral['id']}' AND action = 'status'")
        == 4
    )


def test_revoking_consent_stops_sharing(app, world, api_as):
    api = api_as("navigator@a.test")
    consent, _ = _consent(api, world)
    referral = _create(api, world, _concern(app, world)).json
    revoked = api.post(f"/api/v1/consents/{consent['id']}/revoke", json={"reason": "family"})
    assert revoked.status_code == 200 and revoked.json["active"] is False
    after = api.get(f"{STUDENT_REFS}/{referral['id']}").json
    assert after["status"] == "consent-revoked"
    events = api.get(f"{STUDENT_REFS}/{referral['id']}/events").json
    assert events[-1]["to_status"] == "consent-revoked"
    again = _create(api, world, _concern(app, world))
    assert again.status_code == 403  # later sharing is refused
    provider = api_as("intake@pa.test")
    assert _move(provider, referral["id"], "accepted").status_code == 409


def test_expired_consent_does_not_allow_sending(app, world, api_as):
    from baton.platform.extensions import db
    from baton.platform.models import Consent
    from baton.tenants.context import system_scope

    api = api_as("navigator@a.test")
    consent, _ = _consent(api, world, expires_on=date.today().isoformat())
    with app.app_context(), system_scope("test: let the consent expire"):
        row = db.session.scalars(db.select(Consent).where(Consent.id == consent["id"])).one()
        row.expires_on = date.today() - timedelta(days=1)
        db.session.commit()
    assert _create(api, world, _concern(app, world)).status_code == 403


def test_status_feedback_needs_consent_but_closure_passes(app, world, api_as):
    api = api_as("navigator@a.test")
    _consent(api, world, share=("referral-reason",))
    referral = _create(api, world, _concern(app, world)).json
    provider = api_as("intake@pa.test")
    assert _move(provider, referral["id"], "accepted").status_code == 200
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    refused = _move(provider, referral["id"], "scheduled", appointment_at=when)
    assert refused.status_code == 409
    assert refused.json["type"].endswith("/feedback-not-consented")
    assert (
        _move(provider, referral["id"], "closed-completed", reason="completed").status_code == 200
    )


def test_attempt_on_a_forbidden_channel_is_refused(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    _, caregiver = _consent(api, world)
    referral = _create(api, world, _concern(app, world)).json
    url = f"{STUDENT_REFS}/{referral['id']}/attempts"
    refused = api.post(
        url, json={"caregiver_id": caregiver["id"], "channel": "letter", "outcome": "no-answer"}
    )
    assert refused.status_code == 422
    assert refused.json["type"].endswith("/unsafe-contact")
    assert "letter is not a safe channel" in refused.json["detail"]
    assert _count(owner_engine, "contact_attempts") == 0
    reached = api.post(
        url, json={"caregiver_id": caregiver["id"], "channel": "phone", "outcome": "reached"}
    )
    assert reached.status_code == 201
    after = api.get(f"{STUDENT_REFS}/{referral['id']}").json
    assert after["contact_confirmed_at"] and after["contact_due_at"] is None


def test_bounce_needs_a_reason_and_creates_the_next_action(app, world, api_as):
    api = api_as("navigator@a.test")
    _consent(api, world)
    referral = _create(api, world, _concern(app, world)).json
    url = f"{STUDENT_REFS}/{referral['id']}"
    etag = api.get(url).headers["ETag"]
    assert (
        api.post(f"{url}/bounces", json={"reason": "moon"}, headers={"If-Match": etag}).status_code
        == 422
    )
    bounced = api.post(
        f"{url}/bounces", json={"reason": "language-access-gap"}, headers={"If-Match": etag}
    )
    assert bounced.status_code == 201
    assert "interpreter" in bounced.json["suggested_fix"]
    assert bounced.json["next_action"] == bounced.json["suggested_fix"]
    assert api.get(url).json["status"] == "bounced"
    resumed = api.post(f"{url}/resume", headers={"If-Match": api.get(url).headers["ETag"]})
    assert resumed.status_code == 200 and resumed.json["status"] == "sent"
    assert api.get(f"{url}/bounces").json[0]["resolved_at"]


def test_tier_c_opens_a_crisis_record_and_cannot_be_referred(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    concern_id = _concern(app, world, immediate_risk=True)
    assert _count(owner_engine, "crisis_records", f"concern_id = '{concern_id}'") == 1
    _consent(api, world)
    refused = _create(api, world, concern_id)
    assert refused.status_code == 422
    assert "crisis" in refused.json["errors"]["concern_id"]


def test_same_etag_twice_one_wins_the_other_gets_412(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    url = f"{STUDENT_REFS}/{world.referral_a.id}"
    etag = api.get(url).headers["ETag"]
    first = _move(api, world.referral_a.id, "bounced", etag=etag, reason="capacity-delay")
    second = _move(api, world.referral_a.id, "withdrawn", etag=etag, reason="moved away")
    assert (first.status_code, second.status_code) == (200, 412)
    assert _move(api, world.referral_a.id, "withdrawn", reason="x").status_code == 200
    events = api.get(f"{url}/events").json
    assert [e["to_status"] for e in events] == ["draft", "sent", "bounced", "withdrawn"]


def test_concurrent_updates_with_one_etag_exactly_one_wins(app, world, api_as, owner_engine):
    clients = [api_as("navigator@a.test") for _ in range(4)]
    url = f"{STUDENT_REFS}/{world.referral_a.id}"
    etag = clients[0].get(url).headers["ETag"]
    barrier, results = threading.Barrier(len(clients)), []

    def update(api):
        barrier.wait()
        results.append(
            _move(api, world.referral_a.id, "withdrawn", etag=etag, reason="race").status_code
        )

    threads = [threading.Thread(target=update, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 412, 412, 412]
    assert (
        _count(
            owner_engine,
            "referral_events",
            f"referral_id = '{world.referral_a.id}' AND to_status = 'withdrawn'",
        )
        == 1
    )


def test_if_match_is_required(world, api_as):
    api = api_as("navigator@a.test")
    response = api.post(
        f"{STUDENT_REFS}/{world.referral_a.id}/status", json={"status": "withdrawn", "reason": "x"}
    )
    assert response.status_code == 428
    assert response.json["type"].endswith("/if-match-required")


def test_same_idempotency_key_twice_creates_one_referral(app, world, api_as, owner_engine):
    api = api_as("navigator@a.test")
    _consent(api, world)
    concern_id = _concern(app, world)
    key = {"headers": {"Idempotency-Key": "create-once-123"}}
    first = _create(api, world, concern_id, **key)
    second = _create(api, world, concern_id, **key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json == second.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _count(owner_engine, "referrals", f"concern_id = '{concern_id}'") == 1
    other = _create(api, world, concern_id, reason_text="different", **key)
    assert other.status_code == 422
    assert other.json["type"].endswith("/idempotency-key-reused")


def test_concurrent_retries_with_one_key_create_one_referral(app, world, api_as, owner_engine):
    clients = [api_as("navigator@a.test") for _ in range(3)]
    _consent(clients[0], world)
    concern_id = _concern(app, world)
    barrier, results = threading.Barrier(3), []

    def create(api):
        barrier.wait()
        results.append(
            _create(api, world, concern_id, headers={"Idempotency-Key": "race-key"}).json["id"]
        )

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert _count(owner_engine, "referrals", f"concern_id = '{concern_id}'") == 1


def test_invalid_bodies_are_422_with_field_details(world, api_as):
    api = api_as("navigator@a.test")
    response = api.post(STUDENT_REFS, json={"student_id": "nope", "surprise": 1})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert {"student_id", "surprise", "concern_id", "provider_id"} <= set(response.json["errors"])


def test_oversized_body_is_413(world, api_as):
    api = api_as("navigator@a.test")
    response = api.post(
        STUDENT_REFS, data="x" * (1024 * 1024 + 10), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_cursor_pagination_walks_every_referral_once(app, world, api_as):
    api = api_as("navigator@a.test")
    _consent(api, world)
    created = {_create(api, world, _concern(app, world)).json["id"] for _ in range(4)}
    created.add(str(world.referral_a.id))
    seen, cursor = [], None
    while True:
        page = api.get(
            STUDENT_REFS, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(created)
    assert api.get(STUDENT_REFS, query_string={"cursor": "garbage"}).status_code == 422


def test_filters_narrow_the_list(app, world, api_as):
    api = api_as("navigator@a.test")
    assert [
        r["id"] for r in api.get(STUDENT_REFS, query_string={"status": "sent"}).json["items"]
    ] == [str(world.referral_a.id)]
    assert api.get(STUDENT_REFS, query_string={"status": "engaged"}).json["items"] == []
    assert api.get(STUDENT_REFS, query_string={"overdue": "true"}).json["items"] == []


def test_escalations_open_and_close(world, api_as):
    navigator = api_as("navigator@a.test")
    opened = navigator.post(
        f"{STUDENT_REFS}/{world.referral_a.id}/escalations", json={"reason": "no answer in 3 days"}
    )
    assert opened.status_code == 201 and opened.json["assigned_to"]
    url = f"/api/v1/escalations/{opened.json['id']}/close"
    assert navigator.post(url, json={"resolution": "connected"}).status_code == 403
    lead = api_as("escalation_lead@a.test")
    closed = lead.post(url, json={"resolution": "alternative-plan", "note": "school counselor"})
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    assert opened.json["id"] not in [e["id"] for e in lead.get("/api/v1/escalations").json]


def test_directory_search_filters_services(app, world, api_as):
    from baton.platform.extensions import db
    from baton.platform.services import provisioning as prov
    from baton.tenants.context import system_scope

    with app.app_context(), system_scope("test: directory"):
        provider = prov.provider_by_slug("pa")
        prov.create_service(
            provider,
            "Spanish counseling",
            service_type="bh-counseling",
            languages=["es"],
            modalities=["telehealth"],
            insurance_accepted=["medicaid"],
            current_wait_days=4,
            intake_route="portal",
        )
        db.session.commit()
    api = api_as("navigator@a.test")
    found = api.get("/api/v1/directory/services", query_string={"language": "es"}).json
    assert [s["name"] for s in found] == ["Spanish counseling"]
    assert (
        api.get(
            "/api/v1/directory/services", query_string={"language": "es", "max_wait_days": 3}
        ).json
        == []
    )


def test_navigator_records_a_phone_providers_answers_on_its_behalf(app, world, api_as):
    from baton.platform.extensions import db
    from baton.platform.services import provisioning as prov
    from baton.tenants.context import system_scope

    with app.app_context(), system_scope("test: a phone-route service"):
        service, _ = prov.create_service(
            prov.provider_by_slug("pa"),
            "Phone intake",
            service_type="bh-assessment",
            intake_route="phone",
            intake_contact="+1-555-0100",
        )
        service_id = str(service.id)
        db.session.commit()
    api = api_as("navigator@a.test")
    _consent(api, world)
    referral = _create(api, world, _concern(app, world), service_id=service_id).json
    assert referral["intake_route"] == "phone"
    assert _move(api, referral["id"], "accepted").status_code == 200
    event = api.get(f"{STUDENT_REFS}/{referral['id']}/events").json[-1]
    assert (event["to_status"], event["actor_kind"]) == ("accepted", "district")
    assert event["detail"] == {"on_behalf_of": "provider"}
    # A portal provider's answers stay the provider's own.
    assert _move(api, world.referral_a.id, "accepted").status_code == 409


def test_a_failure_after_writes_leaves_no_partial_rows(app, world, api_as, owner_engine):
    """The Idempotency-Key row is written before the work; when the work then fails the
    whole request rolls back, so a retry runs afresh instead of replaying the failure."""
    api = api_as("navigator@a.test")
    concern_id = _concern(app, world)
    key = {"Idempotency-Key": "after-consent"}
    tables = ("referrals", "referral_events", "idempotency_records")
    before = [_count(owner_engine, t) for t in tables]
    refused = _create(api, world, concern_id, headers=key)
    assert refused.status_code == 403
    assert [_count(owner_engine, t) for t in tables] == before
    _consent(api, world)
    retried = _create(api, world, concern_id, headers=key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
