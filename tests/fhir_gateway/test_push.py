"""Push (fhir-profile.md §8, §13 scenario 28): a referral sent to a provider whose intake
route is its EHR's FHIR endpoint goes out from the outbox as a transaction Bundle of
conditional creates, with Baton's own signed-assertion token, to a real FHIR server on
loopback that refuses invalid resources; later changes are PUT with If-Match; what the EHR
changes comes back through the services, or is quarantined. PostgreSQL, Redis, RQ."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from baton.platform.models.base import utcnow
from baton.platform.services import outbox
from tests.fhir_gateway.conftest import (
    BASE,
    BATON_CLIENT_AT_EHR,
    BSER,
    PA_MAP,
    business_status,
    run_fhir_jobs,
    set_map,
)

pytestmark = pytest.mark.usefixtures("redis_client")


def _fhir_provider(app, world, remote_ehr) -> str:
    """Provider pa takes referrals through its EHR: a service routed there, Baton's client."""
    from baton.platform.extensions import db
    from baton.platform.models import ProviderOrg
    from baton.platform.services import endpoints
    from baton.platform.services import provisioning as prov
    from baton.tenants.context import system_scope

    with app.app_context(), system_scope("test: a FHIR-route provider"):
        provider = db.session.get(ProviderOrg, world.pa.id)
        service, _ = prov.create_service(
            provider, "EHR intake", service_type="bh-counseling", intake_route="portal"
        )
        endpoints.set_fhir_endpoint(
            provider, remote_ehr.base, BATON_CLIENT_AT_EHR, route_services=True
        )
        service_id = service.id
        db.session.commit()
    return service_id


def _send(app, world, service_id, *, student=1, share=("referral-reason", "status-feedback")):
    from sqlalchemy import select

    from baton.platform.extensions import db
    from baton.platform.models import Caregiver
    from baton.platform.services import consent, referrals
    from baton.tenants.context import acting_as
    from tests.factories import make_concern, principal_of

    student_id = world.students_a[student].id
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        caregiver = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student_id)
        ).first()
        record = consent.record_consent(
            student_id,
            provider_id=world.pa.id,
            consenter="caregiver",
            caregiver_id=caregiver,
            method="signed",
            share_classes=list(share),
        )
        referral = referrals.create_referral(
            student_id=student_id,
            concern_id=make_concern(student_id, daily_functioning=True).id,
            provider_id=world.pa.id,
            service_id=service_id,
        )
        db.session.commit()
        return referral.id, record.id


def _messages(owner_engine, referral_id) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, kind, status, attempts, last_error FROM fhir_outbox"
                " WHERE referral_id = :r ORDER BY created_at"
            ),
            {"r": referral_id},
        ).all()


def _link(owner_engine, referral_id):
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT task_id, version_id, synced_count FROM fhir_pushed_tasks"
                " WHERE referral_id = :r"
            ),
            {"r": referral_id},
        ).one_or_none()


def _status(owner_engine, referral_id) -> str:
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM referrals WHERE id = :r"), {"r": referral_id}
        ).scalar()


@pytest.fixture
def pushed(app, world, remote_ehr, push_ready, owner_engine):
    """A referral sent to pa through its EHR and delivered there."""
    service_id = _fhir_provider(app, world, remote_ehr)
    referral_id, consent_id = _send(app, world, service_id)
    run_fhir_jobs(push_ready)
    return referral_id, consent_id


def test_send_writes_the_push_with_the_referral_and_delivers_it_once(
    app, world, remote_ehr, push_ready, owner_engine
):
    service_id = _fhir_provider(app, world, remote_ehr)
    referral_id, _ = _send(app, world, service_id)
    assert [(m.kind, m.status) for m in _messages(owner_engine, referral_id)] == [
        ("push-bundle", "pending")
    ]  # committed with the referral itself; nothing has left yet
    assert remote_ehr.all("Task") == []
    run_fhir_jobs(push_ready)
    assert [(m.kind, m.status) for m in _messages(owner_engine, referral_id)] == [
        ("push-bundle", "delivered")
    ]
    [task] = remote_ehr.all("Task")
    identifiers = {(i["system"], i["value"]) for i in task["identifier"]}
    assert (f"{BASE}/sid/referral", str(referral_id)) in identifiers
    assert task["status"] == "requested"
    assert task["businessStatus"]["coding"][0]["code"] == "sent"
    counts = {
        t: len(remote_ehr.all(t)) for t in ("Organization", "Patient", "Consent", "ServiceRequest")
    }
    assert counts == {"Organization": 2, "Patient": 1, "Consent": 1, "ServiceRequest": 1}
    patient = remote_ehr.all("Patient")[0]
    assert task["for"]["reference"] == f"Patient/{patient['id']}"
    assert "contact" not in patient  # contact details were not consented
    link = _link(owner_engine, referral_id)
    assert (link.task_id, link.version_id) == (task["id"], "1")
    run_fhir_jobs(push_ready, at=utcnow() + timedelta(hours=1))  # nothing left to send
    assert len([m for m in remote_ehr.log if m[0] == "POST" and m[1] == "/fhir"]) == 1
    with owner_engine.connect() as conn:
        pushes = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'push'")).scalar()
    assert pushes == 1


# 28
def test_push_retry_with_the_same_identifier_duplicates_nothing(
    pushed, remote_ehr, push_ready, owner_engine
):
    referral_id, _ = pushed
    # The EHR took the first delivery but Baton never heard back: the message goes again.
    with owner_engine.begin() as conn:
        conn.execute(
            text("DELETE FROM fhir_pushed_tasks WHERE referral_id = :r"), {"r": referral_id}
        )
        conn.execute(
            text("UPDATE fhir_outbox SET status = 'pending' WHERE referral_id = :r"),
            {"r": referral_id},
        )
    run_fhir_jobs(push_ready)
    assert [m.status for m in _messages(owner_engine, referral_id)] == ["delivered"]
    posts = [
        status for method, path, status in remote_ehr.log if (method, path) == ("POST", "/fhir")
    ]
    assert posts == [200, 200]
    assert {t: len(remote_ehr.all(t)) for t in ("Task", "ServiceRequest", "Patient")} == {
        "Task": 1,
        "ServiceRequest": 1,
        "Patient": 1,
    }
    assert _link(owner_engine, referral_id).task_id == remote_ehr.all("Task")[0]["id"]


def test_delivery_survives_the_ehr_being_down_and_arrives_once(
    app, world, remote_ehr, push_ready, owner_engine
):
    service_id = _fhir_provider(app, world, remote_ehr)
    remote_ehr.server.stop()
    referral_id, _ = _send(app, world, service_id)
    now = utcnow()
    run_fhir_jobs(push_ready, at=now)
    run_fhir_jobs(push_ready, at=now + timedelta(minutes=1))  # still backing off: not tried
    [message] = _messages(owner_engine, referral_id)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "ConnectionError" in message.last_error
    run_fhir_jobs(push_ready, at=now + timedelta(minutes=3))
    assert _messages(owner_engine, referral_id)[0].attempts == 2
    remote_ehr.server.start()
    run_fhir_jobs(push_ready, at=now + timedelta(minutes=8))
    assert [(m.status, m.attempts) for m in _messages(owner_engine, referral_id)] == [
        ("delivered", 2)
    ]
    assert len(remote_ehr.all("Task")) == 1


def test_a_dead_letter_is_listed_for_the_districts_admin_who_can_retry_it(
    app, world, remote_ehr, push_ready, owner_engine, api_as
):
    service_id = _fhir_provider(app, world, remote_ehr)
    remote_ehr.server.stop()
    referral_id, _ = _send(app, world, service_id)
    now = utcnow()
    for attempt in range(outbox.MAX_ATTEMPTS):
        run_fhir_jobs(push_ready, at=now + timedelta(hours=2 * attempt))
    [message] = _messages(owner_engine, referral_id)
    assert (message.status, message.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    admin = api_as("district_admin@a.test")
    failed = [d for d in admin.get("/api/v1/deliveries/failed").json if d["channel"] == "fhir"]
    assert [(d["id"], d["kind"], d["status"]) for d in failed] == [
        (str(message.id), "push-bundle", "failed")
    ]
    assert "ConnectionError" in failed[0]["error"] and failed[0]["target"] == remote_ehr.base
    # The referral page says so in words; only the district admin gets the Retry button.
    page = admin.get(f"/referrals/{referral_id}").text
    assert f"after {outbox.MAX_ATTEMPTS} attempts:" in page and remote_ehr.base in page
    assert f'name="retry-message_id" value="{message.id}"' in page
    seen = api_as("navigator@a.test").get(f"/referrals/{referral_id}").text
    assert "Failed</strong>" in seen and "retry-message_id" not in seen
    assert "ConnectionError" in admin.get("/admin/deliveries").text
    other = api_as("district_admin@b.test")
    assert [d for d in other.get("/api/v1/deliveries/failed").json if d["channel"] == "fhir"] == []
    assert other.post(f"/api/v1/deliveries/fhir/{message.id}/retry").status_code == 404
    assert api_as("navigator@a.test").get("/api/v1/deliveries/failed").status_code == 403
    retried = admin.post(f"/api/v1/deliveries/fhir/{message.id}/retry")
    assert retried.status_code == 200 and retried.json["status"] == "pending"
    remote_ehr.server.start()
    run_fhir_jobs(push_ready, at=now + timedelta(hours=20))
    assert _messages(owner_engine, referral_id)[0].status == "delivered"
    assert len(remote_ehr.all("Task")) == 1


def test_flushing_redis_mid_way_loses_nothing(app, world, remote_ehr, push_ready, owner_engine):
    from redis import Redis
    from rq import Queue

    from baton.workers.jobs import fhir as fhir_jobs
    from tests.conftest import REDIS_URL

    service_id = _fhir_provider(app, world, remote_ehr)
    referral_id, _ = _send(app, world, service_id)
    connection = Redis.from_url(REDIS_URL)
    with push_ready.app.app_context():
        assert fhir_jobs.deliver_due_fhir() == 1
    assert Queue("fhir", connection=connection).count == 1
    connection.flushdb()  # the queued delivery is gone; the outbox row is not
    run_fhir_jobs(push_ready)
    assert [m.status for m in _messages(owner_engine, referral_id)] == ["delivered"]
    assert len(remote_ehr.all("Task")) == 1
    connection.close()


def test_district_changes_are_put_to_the_remote_task_with_if_match(
    pushed, api_as, remote_ehr, push_ready, owner_engine
):
    referral_id, _ = pushed
    navigator = api_as("navigator@a.test")
    etag = navigator.get(f"/api/v1/referrals/{referral_id}").headers["ETag"]
    moved = navigator.post(
        f"/api/v1/referrals/{referral_id}/status",
        json={"status": "withdrawn", "reason": "family moved away"},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 200, moved.json
    run_fhir_jobs(push_ready)
    [task] = remote_ehr.all("Task")
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "cancelled",
        "withdrawn",
    )
    assert task["meta"]["versionId"] == "2" and remote_ehr.if_matches == ['W/"1"']
    assert task["for"]["reference"].startswith("Patient/")  # the EHR's references stay
    assert [m.kind for m in _messages(owner_engine, referral_id)] == ["push-bundle", "task-update"]
    assert _link(owner_engine, referral_id).version_id == "2"


def test_consent_revoked_before_delivery_pushes_nothing(
    app, world, remote_ehr, push_ready, owner_engine, api_as
):
    service_id = _fhir_provider(app, world, remote_ehr)
    referral_id, consent_id = _send(app, world, service_id)
    revoked = api_as("navigator@a.test").post(f"/api/v1/consents/{consent_id}/revoke", json={})
    assert revoked.status_code == 200
    run_fhir_jobs(push_ready)
    assert [m.status for m in _messages(owner_engine, referral_id)] == ["skipped", "skipped"]
    assert remote_ehr.all("Task") == [] and remote_ehr.all("Patient") == []


def _accept_remotely(task):
    task["status"] = "accepted"
    task["businessStatus"] = business_status("accepted")
    task["identifier"].append(
        {
            "use": "secondary",
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "FILL"}
                ]
            },
            "system": "urn:ehr:referrals",
            "value": "EHR-77",
        }
    )


def _poll(live_server) -> dict:
    from baton.workers.jobs import fhir as fhir_jobs

    with live_server.app.app_context():
        assert fhir_jobs.poll_fhir_endpoints() == 1
    run_fhir_jobs(live_server)
    with live_server.app.app_context():
        from baton.platform.extensions import db
        from baton.platform.models import FhirEndpoint
        from baton.tenants.context import system_scope

        with system_scope("test: read the poll state"):
            endpoint = db.session.scalars(db.select(FhirEndpoint)).one()
            return {"cursor": endpoint.poll_cursor, "error": endpoint.poll_error}


def test_the_ehrs_changes_are_mirrored_through_the_services_once(
    pushed, remote_ehr, push_ready, owner_engine, login_as
):
    referral_id, _ = pushed
    task_id = _link(owner_engine, referral_id).task_id
    remote_ehr.edit_task(task_id, _accept_remotely)
    polled = _poll(push_ready)
    assert polled["error"] is None and polled["cursor"]
    assert _status(owner_engine, referral_id) == "accepted"
    seen = login_as("navigator@a.test").get(f"/api/v1/referrals/{referral_id}").json
    assert seen["status"] == "accepted"
    with owner_engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT to_status, surface, actor_kind FROM referral_events"
                " WHERE referral_id = :r ORDER BY seq"
            ),
            {"r": referral_id},
        ).all()
        provider_ref = conn.execute(
            text("SELECT provider_ref FROM referrals WHERE id = :r"), {"r": referral_id}
        ).scalar()
    assert events[-1] == ("accepted", "fhir", "provider") and provider_ref == "EHR-77"
    _poll(push_ready)  # the same version again: nothing new
    assert [e[0] for e in events].count("accepted") == 1
    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM referral_events"
                    " WHERE referral_id = :r AND to_status = 'accepted'"
                ),
                {"r": referral_id},
            ).scalar()
            == 1
        )
    # The change the mirror made owes the EHR nothing: it already has it (no PUT).
    assert [m.status for m in _messages(owner_engine, referral_id)] == ["delivered", "delivered"]
    assert not [m for m in remote_ehr.log if m[0] == "PUT"]
    page = login_as("navigator@a.test").get(f"/referrals/{referral_id}").text
    assert f"Remote Task: <code>Task/{task_id}</code>, version 2" in page
    assert "The provider last changed it in its EHR" in page and "(sent → accepted)" in page


def test_a_remote_change_breaking_the_rules_is_quarantined_not_applied(
    pushed, remote_ehr, push_ready, owner_engine, api_as
):
    referral_id, _ = pushed
    task_id = _link(owner_engine, referral_id).task_id

    def complete(task):  # requested -> completed: an illegal jump (§5)
        task["status"] = "completed"
        task["businessStatus"] = business_status("closed-completed")

    remote_ehr.edit_task(task_id, complete)
    _poll(push_ready)
    assert _status(owner_engine, referral_id) == "sent"
    quarantined = api_as("district_admin@a.test").get("/api/v1/deliveries/quarantined").json
    assert [(q["referral_id"], q["task_status"], q["business_status"]) for q in quarantined] == [
        (str(referral_id), "completed", "closed-completed")
    ]
    assert "not allowed" in quarantined[0]["reason"] or "cannot" in quarantined[0]["reason"]
    assert api_as("district_admin@b.test").get("/api/v1/deliveries/quarantined").json == []
    admin = api_as("district_admin@a.test")
    for url in (f"/referrals/{referral_id}", "/admin/deliveries"):
        page = admin.get(url).text
        assert "Task completed / closed completed (remote version 2)" in page, url
        assert quarantined[0]["reason"] in page.replace("&#39;", "'"), url
    assert _link(owner_engine, referral_id).version_id == "2"  # seen, so not re-examined


def test_the_mirror_reads_the_ehrs_own_codes_through_the_providers_map(
    app, pushed, remote_ehr, push_ready, owner_engine, api_as
):
    """The same map as the hosted PUT (test_code_maps.py): applied before the checks, the
    code the EHR sent kept with the event; an unmapped one is quarantined, naming it."""
    referral_id, _ = pushed
    task_id = _link(owner_engine, referral_id).task_id
    assert set_map(app, "pa", PA_MAP).exit_code == 0

    def foreign(code):
        def change(task):
            task["businessStatus"] = {"coding": [{"system": BSER, "code": code}]}

        return change

    remote_ehr.edit_task(task_id, foreign("5.1.2"))  # still requested: BSeR "received"
    _poll(push_ready)
    assert _status(owner_engine, referral_id) == "received"
    with owner_engine.connect() as conn:
        event = conn.execute(
            text(
                "SELECT to_status, surface, actor_kind, detail FROM referral_events"
                " WHERE referral_id = :r ORDER BY seq DESC LIMIT 1"
            ),
            {"r": referral_id},
        ).one()
        audit = conn.execute(
            text(
                "SELECT detail FROM audit_log WHERE action = 'status' AND object_id = :r"
                " ORDER BY at DESC LIMIT 1"
            ),
            {"r": str(referral_id)},
        ).scalar()
    sent = [{"element": "businessStatus", "system": BSER, "code": "5.1.2", "mapped_to": "received"}]
    assert event == ("received", "fhir", "provider", {"foreign_codes": sent})
    assert audit == {"from": "sent", "to": "received", "foreign_codes": sent}
    remote_ehr.edit_task(task_id, foreign("0.0.7"))
    _poll(push_ready)
    assert _status(owner_engine, referral_id) == "received"
    [held] = api_as("district_admin@a.test").get("/api/v1/deliveries/quarantined").json
    assert held["business_status"] == "0.0.7" and f"{BSER}|0.0.7" in held["reason"]


def test_set_fhir_endpoint_command(app, world, owner_engine):
    from click.testing import CliRunner

    from baton.platform.commands import set_fhir_endpoint

    runner = CliRunner()
    args = ["--provider", "pa", "--client-id", "issued-by-the-ehr"]
    with app.app_context():
        refused = runner.invoke(set_fhir_endpoint, [*args, "--base-url", "http://ehr.test/fhir"])
        made = runner.invoke(
            set_fhir_endpoint, [*args, "--base-url", "https://ehr.test/fhir/", "--route-services"]
        )
        again = runner.invoke(set_fhir_endpoint, [*args, "--base-url", "https://ehr.test/fhir"])
    assert refused.exit_code == 2 and "https://" in refused.output
    assert made.exit_code == 0, made.output
    assert "created FHIR endpoint https://ehr.test/fhir" in made.output
    assert "/fhir/.well-known/client-jwks.json" in made.output
    assert again.exit_code == 0 and "exists" in again.output
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT client_id, base_url FROM fhir_endpoints")).all() == [
            ("issued-by-the-ehr", "https://ehr.test/fhir")
        ]


def test_nothing_is_pushed_once_the_partnership_has_ended(
    app, world, remote_ehr, push_ready, owner_engine
):
    service_id = _fhir_provider(app, world, remote_ehr)
    referral_id, _ = _send(app, world, service_id)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE partnerships SET active = false WHERE provider_id = :p"),
            {"p": world.pa.id},
        )
    run_fhir_jobs(push_ready)
    [message] = _messages(owner_engine, referral_id)
    assert (message.status, message.last_error) == ("skipped", "not-found: No such referral")
    assert remote_ehr.all("Task") == []


def test_a_revocation_after_the_push_cancels_the_remote_task(
    pushed, api_as, remote_ehr, push_ready, owner_engine
):
    referral_id, consent_id = pushed
    revoked = api_as("navigator@a.test").post(f"/api/v1/consents/{consent_id}/revoke", json={})
    assert revoked.status_code == 200
    run_fhir_jobs(push_ready)
    [task] = remote_ehr.all("Task")
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "cancelled",
        "consent-revoked",
    )
    assert task["input"][0]["valueBoolean"] is False  # a stub: feedback no longer permitted


def test_a_fhir_route_without_a_registered_endpoint_is_hosted_and_pushes_nothing(
    app, world, owner_engine
):
    """Hosted is the default topology (fhir-profile.md §1): with no EHR endpoint registered
    for the provider, its EHR polls /fhir, so sending writes no push message."""
    from baton.platform.extensions import db
    from baton.platform.models import ProviderOrg
    from baton.platform.services import provisioning as prov
    from baton.tenants.context import system_scope

    with app.app_context(), system_scope("test: a hosted FHIR-route provider"):
        provider = db.session.get(ProviderOrg, world.pa.id)
        service, _ = prov.create_service(
            provider, "EHR intake (hosted)", service_type="bh-counseling", intake_route="fhir"
        )
        service_id = service.id
        db.session.commit()
    referral_id, _ = _send(app, world, service_id)
    assert _status(owner_engine, referral_id) == "sent"
    assert _messages(owner_engine, referral_id) == []
