"""Notifications for the signed-in person, and failed e-mail deliveries for admins."""

import marshmallow as ma

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.schemas.base import DumpSchema, LoadSchema
from baton.platform.services import email, notifications, outbox

blp = Blueprint(
    "api_notifications",
    __name__,
    url_prefix=PREFIX,
    description="In-app notifications, e-mail and FHIR delivery",
)
blp.before_request(authenticate_api_request)


class NotificationSchema(DumpSchema):
    id = ma.fields.UUID()
    kind = ma.fields.String()
    text = ma.fields.String()
    referral_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)
    email_status = ma.fields.String()
    email_attempts = ma.fields.Integer()
    email_error = ma.fields.String(allow_none=True)


class MarkReadSchema(LoadSchema):
    ids = ma.fields.List(ma.fields.UUID(), required=True, validate=ma.validate.Length(max=200))


class MarkedSchema(DumpSchema):
    marked = ma.fields.Integer()


@blp.get("/notifications")
@blp.response(200, NotificationSchema(many=True))
def list_notifications():
    return notifications.my_notifications(unread_only=False)


@blp.post("/notifications/read")
@blp.arguments(MarkReadSchema)
@blp.response(200, MarkedSchema)
def mark_read(data):
    return {"marked": notifications.mark_read(data["ids"])}


class DeliverySchema(NotificationSchema):
    """A failed delivery: an e-mail (``channel`` email, the notification's fields) or a
    FHIR message (``channel`` fhir: a push to the provider's EHR or a notification)."""

    channel = ma.fields.String()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)
    target = ma.fields.String(allow_none=True)


class QuarantinedSchema(DumpSchema):
    id = ma.fields.UUID()
    referral_id = ma.fields.UUID()
    remote_version = ma.fields.String()
    task_status = ma.fields.String(allow_none=True)
    business_status = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    received_at = ma.fields.DateTime()


def _email_delivery(row) -> dict:
    fields = ("id", "kind", "text", "referral_id", "created_at", "read_at")
    return {
        **{name: getattr(row, name) for name in fields},
        "email_status": row.email_status,
        "email_attempts": row.email_attempts,
        "email_error": row.email_error,
        "channel": "email",
        "status": row.email_status,
        "attempts": row.email_attempts,
        "error": row.email_error,
    }


def _fhir_delivery(row) -> dict:
    fields = ("id", "kind", "referral_id", "created_at", "status", "attempts", "target")
    return {
        **{name: getattr(row, name) for name in fields},
        "channel": "fhir",
        "error": row.last_error,
    }


@blp.get("/deliveries/failed")
@blp.response(200, DeliverySchema(many=True))
def failed_deliveries():
    """E-mails and FHIR messages that gave up after retries (district admins)."""
    emails = [_email_delivery(row) for row in email.failed_deliveries()]
    messages = [_fhir_delivery(row) for row in outbox.failed_messages()]
    return sorted(emails + messages, key=lambda d: d["created_at"], reverse=True)


@blp.post("/deliveries/<uuid:notification_id>/retry")
@blp.response(200, NotificationSchema)
def retry_delivery(notification_id):
    return email.retry_delivery(notification_id)


@blp.post("/deliveries/fhir/<uuid:fhir_message_id>/retry")
@blp.response(200, DeliverySchema)
def retry_fhir_delivery(fhir_message_id):
    """Send a failed FHIR message again, from its first attempt."""
    return _fhir_delivery(outbox.retry_message(fhir_message_id))


@blp.get("/deliveries/quarantined")
@blp.response(200, QuarantinedSchema(many=True))
def quarantined_changes():
    """Changes provider EHRs made to pushed Tasks that broke the profile's rules: recorded,
    not applied (district admins)."""
    return outbox.quarantined_changes()
