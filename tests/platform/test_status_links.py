"""One-link status updates: the provider's notification e-mail carries a signed, expiring,
single-referral link that works without a password, is audited on every use, dies when used
for a terminal status or revoked, and never shows another referral."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_string, policy

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, text

from baton.platform.errors import NotFound
from baton.platform.extensions import db
from baton.platform.models import Caregiver, Referral
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import consent, referrals, status_links
from baton.tenants.context import acting_as
from baton.workers.jobs import email as email_jobs
from tests.conftest import csrf_token
from tests.factories import make_concern, principal_of
from tests.workers.test_email import smtp_server  # noqa: F401 - the fixture

TOKEN = re.compile(r"/status-update\?token=(\S+)")


def _provider_notices(owner_engine):
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT id, tenant_id, text, referral_id FROM notifications WHERE kind = :k"),
            {"k": "provider-referral"},
        ).all()


def _emailed_token(app, owner_engine, inbox, referral_id) -> str:
    row = next(r for r in _provider_notices(owner_engine) if r.referral_id == referral_id)
    with app.app_context():
        email_jobs.deliver_one_email(str(row.tenant_id), str(row.id))
    return TOKEN.search(_body(inbox.messages[-1][1])).group(1)


def _body(content: str) -> str:
    return message_from_string(content, policy=policy.default).get_content()


@pytest.fixture
def token_a(app, world, owner_engine, smtp_server):  # noqa: F811
    return _emailed_token(app, owner_engine, smtp_server, world.referral_a.id)


def _post(client, token, action, **fields):
    page = client.get(f"/status-update?token={token}")
    csrf = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    data = {f"{action}-csrf_token": csrf, "token": token}
    version = re.search(rf'id="{action}-version"[^>]*value="(\d+)"', page.text)
    data |= {f"{action}-action": action, f"{action}-version": version.group(1) if version else ""}
    data |= {f"{action}-{k}": v for k, v in fields.items()}
    return client.post("/status-update", data=data)


def test_sending_to_a_portal_provider_notifies_its_intake_staff_without_student_detail(
    app,
    world,
    owner_engine,
    smtp_server,  # noqa: F811
):
    notices = [n for n in _provider_notices(owner_engine) if n.tenant_id == world.tenant_a.id]
    assert len(notices) == 1 and "District A" in notices[0].text
    token = _emailed_token(app, owner_engine, smtp_server, world.referral_a.id)
    recipients, content = smtp_server.messages[-1]
    body = _body(content)
    assert recipients == ["intake@pa.test"]
    assert token and "expires in 14 days" in body
    for marker in ("StuA0", "OnlyAFamily0", "A-LOCAL-0", "Caregiver-of-StuA0"):
        assert marker not in body
    with owner_engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM status_links")).scalars().all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


def test_the_link_opens_without_a_password_and_every_use_is_audited(
    app, world, owner_engine, token_a
):
    client = app.test_client()
    page = client.get(f"/status-update?token={token_a}")
    assert page.status_code == 200
    assert "StuA0 OnlyAFamily0" in page.text and "District A" in page.text
    assert "Caregiver-of-StuA0" in page.text  # contact details were consented
    assert "Accept referral" in page.text
    accepted = _post(client, token_a, "accepted")
    assert accepted.status_code == 200 and "now accepted" in accepted.text
    scheduled = _post(
        client, token_a, "scheduled", appointment_at="2030-05-06T15:30", place="Clinic room 2"
    )
    assert scheduled.status_code == 200, scheduled.text[-600:]
    with owner_engine.connect() as conn:
        status, at = conn.execute(
            text("SELECT status, appointment_at FROM referrals WHERE id = :i"),
            {"i": world.referral_a.id},
        ).one()
        events = conn.execute(
            text(
                "SELECT to_status, actor_kind, surface FROM referral_events"
                " WHERE referral_id = :i ORDER BY seq"
            ),
            {"i": world.referral_a.id},
        ).all()
        audit = conn.execute(
            text(
                "SELECT action, surface, actor_role, acting_for FROM audit_log"
                " WHERE action LIKE 'status-link-%' ORDER BY at"
            )
        ).all()
        uses = conn.execute(text("SELECT use_count FROM status_links")).scalar_one()
    assert status == "scheduled" and at.hour == 20  # 15:30 in America/Chicago is 20:30 UTC
    assert events[-2:] == [("accepted", "provider", "ui"), ("scheduled", "provider", "ui")]
    assert [a.action for a in audit].count("status-link-view") == 3
    assert [a.action for a in audit].count("status-link-update") == 2
    assert {(a.surface, a.actor_role, a.acting_for) for a in audit} == {
        ("ui", "status_link", f"provider:{world.pa.id}")
    }
    assert uses == 5


def test_a_terminal_status_spends_the_link(app, world, token_a):
    client = app.test_client()
    declined = _post(client, token_a, "declined", reason="no-capacity")
    assert declined.status_code == 200 and "no longer works" in declined.text
    again = client.get(f"/status-update?token={token_a}")
    assert again.status_code == 403
    assert "already used" in again.text or "closed" in again.text


def test_refusals_are_plain_pages_never_500(app, world, owner_engine, token_a):
    client = app.test_client()
    tampered = token_a[:-3] + ("aaa" if not token_a.endswith("aaa") else "bbb")
    for bad in (tampered, "", "not-a-token", "x" * 5000, token_a + "%00"):
        page = client.get("/status-update", query_string={"token": bad})
        assert page.status_code == 403 and "not valid" in page.text
        assert "StuA0" not in page.text
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE status_links SET expires_at = now() - interval '1 minute'"))
    expired = client.get(f"/status-update?token={token_a}")
    assert expired.status_code == 403 and "expired" in expired.text
    assert client.post("/status-update", data={"token": token_a}).status_code in (400, 403)


def test_the_signature_itself_expires(app, world, token_a):
    with travel_to(utcnow() + status_links.LIFETIME + timedelta(minutes=1)):
        page = app.test_client().get(f"/status-update?token={token_a}")
    assert page.status_code == 403 and "expired" in page.text


def test_a_revoked_link_is_refused(app, world, login_as, token_a):
    navigator = login_as("navigator@a.test")
    page = navigator.get(f"/referrals/{world.referral_a.id}").text
    assert "1 live" in page
    revoked = navigator.post(
        f"/referrals/{world.referral_a.id}",
        data={"csrf_token": csrf_token(page), "links-action": "links", "action": "links"},
    )
    assert revoked.status_code == 302
    refused = app.test_client().get(f"/status-update?token={token_a}")
    assert refused.status_code == 403 and "withdrawn" in refused.text


def test_a_refused_use_of_a_real_link_is_audited(app, world, owner_engine, token_a):
    """A spent, withdrawn or expired link that someone still opens leaves an audit row with
    the reason; a token that names no link has nothing to attach one to."""
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE status_links SET expires_at = now() - interval '1 minute'"))
    client = app.test_client()
    assert client.get(f"/status-update?token={token_a}").status_code == 403
    assert client.get("/status-update?token=not-a-token").status_code == 403
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT object_id, actor_role, detail FROM audit_log"
                " WHERE action = 'status-link-refused'"
            )
        ).all()
    assert [(r.object_id, r.actor_role) for r in rows] == [
        (str(world.referral_a.id), "status_link")
    ]
    assert "expired" in rows[0].detail["reason"]


def _second_referral_to_pa(app, world) -> Referral:
    """Another referral in district A addressed to the same provider."""
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        student = world.students_a[1]
        caregiver = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student.id)
        ).first()
        concern = make_concern(student.id, daily_functioning=True)
        consent.record_consent(
            student.id,
            provider_id=world.pa.id,
            consenter="caregiver",
            caregiver_id=caregiver,
            method="signed",
            share_classes=["referral-reason"],
        )
        other = referrals.create_referral(
            student_id=student.id, concern_id=concern.id, provider_id=world.pa.id
        )
        db.session.commit()
        return other.id


def test_a_link_never_reaches_another_referral(app, world, owner_engine, token_a):
    other_id = _second_referral_to_pa(app, world)
    with app.test_request_context():
        opened = status_links.open_status_link(token_a)
        with acting_as(opened.principal):
            assert referrals.access_referral(world.referral_a.id).id == world.referral_a.id
            with pytest.raises(NotFound):
                referrals.access_referral(other_id)
            listed = referrals.list_referrals(referrals.ReferralFilters())
            assert [r.id for r in listed] == [world.referral_a.id]
        db.session.rollback()
    # A validly signed token naming the other referral's link, without that link's secret.
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        other = db.session.get(Referral, (world.tenant_a.id, other_id))
        status_links.issue_status_link(other)
        db.session.commit()
    with owner_engine.connect() as conn:
        other_link = conn.execute(
            text("SELECT id FROM status_links WHERE referral_id = :r"), {"r": other_id}
        ).scalar_one()
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=status_links.SALT)
    forged = signer.dumps([str(world.tenant_a.id), str(other_link), "guessed-nonce"])
    client = app.test_client()
    page = client.get(f"/status-update?token={forged}")
    assert page.status_code == 403 and "StuA1" not in page.text
    # Posting another referral's id alongside a good token changes only the token's referral.
    _post(client, token_a, "accepted", referral_id=str(other_id))
    with owner_engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT id, status FROM referrals")).all())
    assert statuses[world.referral_a.id] == "accepted" and statuses[other_id] == "sent"


def test_provider_portal_staff_see_their_notice_and_the_portal_page(world, login_as):
    intake = login_as("intake@pa.test")
    notices = intake.get("/notifications").text
    assert "New urgent referral from District A" in notices
    assert f"/provider/referrals/{world.referral_a.id}" in notices
    page = intake.get(f"/provider/referrals/{world.referral_a.id}")
    assert page.status_code == 200 and "StuA0 OnlyAFamily0" in page.text
