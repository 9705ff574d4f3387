"""The FHIR delivery state on the referral page, and the failed-deliveries admin page: each
state in words, retry through the same service as the JSON API (district admins only),
another district's delivery is 404. The outbox rows are moved through the outbox services
the delivery job uses; tests/fhir_gateway/test_push.py drives the same pages end to end
against a real EHR."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from baton.platform.extensions import db
from baton.platform.models import Referral
from baton.platform.models.base import utcnow
from baton.platform.services import outbox
from baton.tenants.context import job_scope, system_scope
from tests.conftest import csrf_token
from tests.delivery_support import (
    EHR,
    deliver,
    fail,
    fhir_route_referral,
    move_message,
    quarantine,
)


@pytest.fixture
def fhir_referral(app, world):
    return fhir_route_referral(app, world)


def _fhir_section(page: str) -> str:
    start = page.index('id="fhir-h"')
    return re.sub(r"\s+", " ", page[start : page.index("</section>", start)])


def test_each_push_state_reads_in_words_on_the_referral_page(app, world, login_as, fhir_referral):
    navigator = login_as("navigator@a.test")
    url = f"/referrals/{fhir_referral}"
    pending = _fhir_section(navigator.get(url).text)
    assert f"Pushed to the provider's EHR over FHIR at <code>{EHR}</code>" in pending
    assert "Pending</span>: first attempt" in pending and "Not in the EHR yet" in pending

    later = utcnow()
    move_message(
        app,
        world,
        fhir_referral,
        lambda r: outbox.record_failure(r, "EHR 503", later, permanent=False),
    )
    retrying = _fhir_section(navigator.get(url).text)
    assert "1 attempt so far, next due" in retrying and "last error: EHR 503" in retrying

    move_message(
        app,
        world,
        fhir_referral,
        lambda r: outbox.record_failure(r, "EHR refused: 400", later, permanent=True),
    )
    failed = _fhir_section(navigator.get(url).text)
    assert "Failed</strong> after 2 attempts: EHR refused: 400" in failed
    assert ">Retry<" not in failed  # a navigator sees the state, only admins retry

    move_message(
        app, world, fhir_referral, lambda r: outbox.mark_skipped(r, "no active consent", later)
    )
    assert "Skipped</span>, nothing sent: no active consent" in _fhir_section(
        navigator.get(url).text
    )

    deliver(app, world, fhir_referral)
    delivered = _fhir_section(navigator.get(url).text)
    assert "Delivered</strong>" in delivered
    assert "Remote Task: <code>Task/T-9</code>, version 3" in delivered and EHR in delivered
    assert "None." in delivered  # no refused changes yet
    quarantine(app, world, fhir_referral)
    quarantined = _fhir_section(navigator.get(url).text)
    assert "Task completed / closed completed (remote version 4)" in quarantined
    assert "transition-refused: requested cannot move to completed" in quarantined


def _post(client, url, page, **data):
    return client.post(url, data={**data, "csrf_token": csrf_token(page)})


def test_only_district_admins_retry_and_the_retry_is_the_apis(
    app, world, login_as, fhir_referral, owner_engine
):
    message_id = fail(app, world, fhir_referral, "EHR refused")
    url = f"/referrals/{fhir_referral}"
    navigator = login_as("navigator@a.test")
    page = navigator.get(url).text
    retry = {"retry-action": "retry", "retry-message_id": str(message_id)}
    token = {"retry-csrf_token": csrf_token(page)}
    assert navigator.post(url, data={**retry, **token}).status_code == 422  # not its action
    assert _post(navigator, f"/admin/deliveries/fhir/{message_id}/retry", page).status_code == 403

    admin = login_as("district_admin@a.test")
    page = admin.get(url).text
    assert f'name="retry-message_id" value="{message_id}"' in page
    token = {"retry-csrf_token": re.search(r'name="retry-csrf_token"[^>]*value="([^"]+)"', page)[1]}
    wrong = admin.post(url, data={**token, "retry-action": "retry", "retry-message_id": "junk"})
    assert wrong.status_code == 422 and "not failed any more" in wrong.text
    done = admin.post(url, data={**retry, **token})
    assert done.status_code == 302 and "done=retry" in done.headers["Location"]
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, attempts FROM fhir_outbox WHERE id = :i"), {"i": message_id}
        ).one()
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'retry' AND object_id = :i"),
            {"i": str(message_id)},
        ).scalar()
    assert tuple(row) == ("pending", 0) and audited == 1
    again = admin.post(url, data={**retry, **token})  # a second click on the stale page
    assert again.status_code == 422 and "not failed any more" in again.text
    assert "Pending</span>: first attempt" in _fhir_section(admin.get(url).text)


def test_failed_deliveries_page_lists_emails_fhir_and_refused_changes(
    app, world, login_as, fhir_referral, owner_engine
):
    from baton.platform.models import Notification

    fhir_id = fail(app, world, fhir_referral)
    quarantine(app, world, fhir_referral)
    with app.app_context(), job_scope(world.tenant_a.id, "test: an e-mail that gave up"):
        mail = db.session.scalars(select(Notification)).first()
        mail.email_status, mail.email_attempts, mail.email_error = "failed", 5, "SMTP 550"
        email_id = mail.id
        db.session.commit()

    admin = login_as("district_admin@a.test")
    assert 'href="/admin/deliveries">Failed deliveries</a>' in admin.get("/admin").text
    page = admin.get("/admin/deliveries").text
    assert "SMTP 550" in page and "Failed</strong> after 1 attempt: EHR refused: 400" in page
    assert "Provider Alpha" in page and f"/referrals/{fhir_referral}#fhir" in page
    assert "requested cannot move to completed" in page and EHR in page
    assert _post(admin, f"/admin/deliveries/fhir/{fhir_id}/retry", page).status_code == 302
    assert _post(admin, f"/admin/deliveries/{email_id}/retry", page).status_code == 302
    refused = _post(admin, f"/admin/deliveries/fhir/{fhir_id}/retry", page)
    assert refused.status_code == 422
    assert (
        "That FHIR delivery was not retried: only a failed delivery can be retried" in refused.text
    )
    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT status FROM fhir_outbox WHERE id = :i"), {"i": fhir_id}
            ).scalar()
            == "pending"
        )
    after = admin.get("/admin/deliveries").text
    assert "No failed FHIR deliveries" in after and "No failed e-mails" in after

    other = login_as("district_admin@b.test")
    theirs = other.get("/admin/deliveries").text
    assert "EHR refused" not in theirs and "cannot move to completed" not in theirs
    assert _post(other, f"/admin/deliveries/fhir/{fhir_id}/retry", theirs).status_code == 404


def test_portal_and_phone_routes_say_how_the_provider_receives_it(app, world, login_as):
    """Portal: one plain line, plus the provider's last change through FHIR (its EHR polls
    Baton's /fhir) once the events say so. Phone: one line with the number."""
    from baton.fhir_gateway.acting import as_provider
    from baton.platform.services import referrals

    navigator = login_as("navigator@a.test")
    url = f"/referrals/{world.referral_a.id}"
    section = _fhir_section(navigator.get(url).text)
    assert "In Baton's provider portal" in section and "Pushed" not in section
    assert "Its EHR also reads it" not in section
    with app.app_context(), as_provider(world.pa.id, "fhir"):
        referrals.transition_referral(world.referral_a.id, "received")
        db.session.commit()
    section = _fhir_section(navigator.get(url).text)
    assert "Its EHR also reads it from Baton's FHIR endpoint, and last changed it there" in section
    assert "(sent → received)" in section

    with app.app_context(), system_scope("test: the referral moves to a phone route"):
        row = db.session.get(Referral, (world.tenant_a.id, world.referral_a.id))
        row.intake_route = "phone"
        db.session.commit()
    assert "By phone" in _fhir_section(navigator.get(url).text)


def test_fhir_state_read_is_part_of_the_audited_page_read(
    app, world, login_as, fhir_referral, owner_engine
):
    login_as("district_admin@a.test").get(f"/referrals/{fhir_referral}")
    with owner_engine.connect() as conn:
        reads = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'read' AND object_type = 'referral'"
                " AND object_id = :i"
            ),
            {"i": str(fhir_referral)},
        ).scalar()
    assert reads == 1
