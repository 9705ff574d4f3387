"""Notifications for the signed-in person, and failed e-mail deliveries for admins."""

import marshmallow as ma
from flask_smorest import Blueprint

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.schemas.base import DumpSchema, LoadSchema
from baton.platform.services import email, notifications

blp = Blueprint(
    "api_notifications",
    __name__,
    url_prefix=PREFIX,
    description="In-app notifications and e-mail delivery",
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


@blp.get("/deliveries/failed")
@blp.response(200, NotificationSchema(many=True))
def failed_deliveries():
    """E-mails that gave up after retries (district admins)."""
    return email.failed_deliveries()


@blp.post("/deliveries/<uuid:notification_id>/retry")
@blp.response(200, NotificationSchema)
def retry_delivery(notification_id):
    return email.retry_delivery(notification_id)
