"""Notification e-mails through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import email
from baton.workers.jobs import email as email_jobs


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield inbox
    controller.stop()
    app.config.pop("MAIL_SERVER", None)


def _rows(owner_engine):
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, tenant_id, email_status, email_attempts, email_error"
                " FROM notifications ORDER BY created_at"
            )
        ).all()


def _deliver_all(app, owner_engine, at=None):
    for row in _rows(owner_engine):
        with app.app_context(), travel_to(at or utcnow()):
            email_jobs.deliver_one_email(str(row.tenant_id), str(row.id))


def test_escalation_e_mails_reach_the_lead_without_student_detail(
    app, world, owner_engine, smtp_server
):
    rows = _rows(owner_engine)
    assert rows and all(r.email_status == "pending" for r in rows)  # the world's escalations
    _deliver_all(app, owner_engine)
    assert {r.email_status for r in _rows(owner_engine)} == {"sent"}
    recipients = sorted(to for tos, _ in smtp_server.messages for to in tos)
    assert recipients == [
        "escalation_lead@a.test",
        "escalation_lead@b.test",
        "intake@pa.test",  # the referral notices to the portal providers
        "intake@pb.test",
    ]
    for _, content in smtp_server.messages:
        assert "Sign in to read it" in content
        for name in ("StuA0", "OnlyAFamily0", "StuB0", "OnlyBFamily0"):
            assert name not in content
    _deliver_all(app, owner_engine)  # already sent: nothing goes out twice
    assert len(smtp_server.messages) == 4


def test_failures_back_off_then_fail_visibly_and_an_admin_can_retry(
    app, world, owner_engine, api_as
):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port())  # nothing listens
    try:
        now = utcnow()
        for attempt in range(email.MAX_ATTEMPTS):
            _deliver_all(app, owner_engine, at=now + timedelta(hours=attempt + 1))
        ours = [r for r in _rows(owner_engine) if r.tenant_id == world.tenant_a.id]
        mine = ours[0]
        assert (mine.email_status, mine.email_attempts) == ("failed", email.MAX_ATTEMPTS)
        assert "ConnectionRefusedError" in mine.email_error
    finally:
        app.config.pop("MAIL_SERVER", None)
    admin = api_as("district_admin@a.test")
    failed = admin.get("/api/v1/deliveries/failed").json
    # district A's two failures (the lead's and the provider's notice); B's are not listed
    assert sorted(f["id"] for f in failed) == sorted(str(r.id) for r in ours)
    assert api_as("navigator@a.test").get("/api/v1/deliveries/failed").status_code == 403
    retried = admin.post(f"/api/v1/deliveries/{mine.id}/retry")
    assert retried.status_code == 200 and retried.json["email_status"] == "pending"


def test_a_pending_e_mail_waits_for_its_backoff(app, world, owner_engine):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port())
    try:
        _deliver_all(app, owner_engine)
    finally:
        app.config.pop("MAIL_SERVER", None)
    with app.app_context():
        from baton.tenants.context import system_scope

        with system_scope("test"):
            assert email.pending_emails(utcnow()) == []  # backing off
            # the two leads' escalation notices and the two providers' referral notices
            assert len(email.pending_emails(utcnow() + timedelta(minutes=3))) == 4


def test_notifications_api_lists_and_marks_only_my_own(world, api_as):
    lead = api_as("escalation_lead@a.test")
    mine = lead.get("/api/v1/notifications").json
    assert len(mine) == 1 and mine[0]["kind"] == "escalation"
    assert api_as("navigator@a.test").get("/api/v1/notifications").json == []
    other = api_as("navigator@a.test").post(
        "/api/v1/notifications/read", json={"ids": [mine[0]["id"]]}
    )
    assert other.json == {"marked": 0}
    assert lead.post("/api/v1/notifications/read", json={"ids": [mine[0]["id"]]}).json == {
        "marked": 1
    }


def test_without_a_mail_server_the_demo_logs_and_marks_sent(app, world, owner_engine):
    _deliver_all(app, owner_engine)
    assert {r.email_status for r in _rows(owner_engine)} == {"sent"}
