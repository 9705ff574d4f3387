"""Delivering notification e-mails from the outbox rows, with retry and backoff."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

from flask import current_app

from baton.platform.models.base import utcnow
from baton.platform.services import email
from baton.tenants.context import job_scope, system_scope
from baton.workers.queues import DEFAULT, enqueue
from baton.workers.runtime import job


@job
def deliver_pending_emails(limit: int = 200) -> int:
    """Enqueue one delivery per e-mail due for a (re)try; returns how many."""
    with system_scope("e-mail outbox: find pending deliveries"):
        due = email.pending_emails(utcnow(), limit=limit)
    for tenant_id, notification_id in due:
        enqueue(DEFAULT, deliver_one_email, str(tenant_id), str(notification_id))
    return len(due)


@job
def deliver_one_email(tenant_id: str, notification_id: str) -> str:
    with job_scope(uuid.UUID(tenant_id), "e-mail outbox: deliver"):
        return email.deliver_email(
            uuid.UUID(notification_id),
            utcnow(),
            _sender(),
            current_app.config.get("BASE_URL", "http://127.0.0.1:5000"),
        )


def _sender() -> email.Sender:
    """SMTP when MAIL_SERVER is set; otherwise the log (the embedded demo has no mail)."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):

        def log_only(to: str, subject: str, body: str) -> None:
            current_app.logger.info("e-mail (no MAIL_SERVER set) to %s: %s", to, subject)

        return log_only

    def smtp(to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = config.get("MAIL_FROM", "baton@localhost")
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(
            config["MAIL_SERVER"], int(config.get("MAIL_PORT", 25)), timeout=10
        ) as client:
            if config.get("MAIL_USE_TLS"):
                client.starttls()
            if config.get("MAIL_USERNAME"):
                client.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
            client.send_message(message)

    return smtp
