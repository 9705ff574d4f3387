"""Referrals: create and send, read, move through the loop, and what hangs off them."""

from flask import url_for

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import (
    decode_cursor,
    encode_cursor,
    idempotent,
    required_version,
    with_etag,
)
from baton.platform.api.problems import problem_doc
from baton.platform.schemas.care import (
    BarrierCreateSchema,
    BarrierSchema,
    EscalationCreateSchema,
    EscalationSchema,
)
from baton.platform.schemas.referrals import (
    AttemptCreateSchema,
    AttemptSchema,
    BounceCreateSchema,
    BounceSchema,
    EventSchema,
    FamilyPlanSchema,
    ReferralCreateSchema,
    ReferralPageSchema,
    ReferralQueryArgs,
    ReferralSchema,
    TransitionSchema,
)
from baton.platform.services import contact, navigation
from baton.platform.services import referrals as svc
from baton.platform.services.family_plan import family_plan

blp = Blueprint(
    "api_referrals",
    __name__,
    url_prefix=f"{PREFIX}/referrals",
    description="Referrals and the closed loop",
)
blp.before_request(authenticate_api_request)
referral_schema = ReferralSchema()
ETAG = {"ETag": {"schema": {"type": "string"}, "description": 'The version, e.g. W/"3"'}}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "schema": {"type": "string"},
    "description": "The ETag of the referral as you read it",
}


def if_match(view):
    """Document an If-Match-guarded move: the header and its 412/428 answers."""
    view = blp.doc(parameters=[IF_MATCH])(view)
    view = problem_doc(blp, 412, "If-Match is stale: reload and try again")(view)
    return problem_doc(blp, 428, "If-Match is required")(view)


def _referral_response(referral, status: int = 200, location: str | None = None):
    return with_etag(referral_schema.dump(referral), referral.version, status, location)


@blp.get("")
@blp.arguments(ReferralQueryArgs, location="query")
@blp.response(200, ReferralPageSchema)
def list_referrals(args):
    cursor, limit = decode_cursor(args.pop("cursor")), args.pop("limit")
    rows = svc.list_referrals(svc.ReferralFilters(**args), after=cursor, limit=limit)
    last = rows[-1] if len(rows) == limit else None
    return {"items": rows, "next_cursor": encode_cursor(last.created_at, last.id) if last else None}


@blp.post("")
@blp.arguments(ReferralCreateSchema)
@blp.response(201, ReferralSchema, headers=ETAG)
@idempotent
def create_referral(data):
    """Create a referral and, unless `send` is false, send it (needs active consent)."""
    referral = svc.create_referral(**data)
    location = url_for("api_referrals.get_referral", referral_id=referral.id)
    return _referral_response(referral, 201, location)


@blp.get("/<uuid:referral_id>")
@blp.response(200, ReferralSchema, headers=ETAG)
def get_referral(referral_id):
    return _referral_response(svc.access_referral(referral_id))


@blp.post("/<uuid:referral_id>/status")
@blp.arguments(TransitionSchema)
@blp.response(200, ReferralSchema, headers=ETAG)
@problem_doc(blp, 409, "The state machine refuses this move")
@if_match
def change_status(data, referral_id):
    """Move the referral to a new status. Requires `If-Match` with the ETag you read."""
    version = required_version()
    appointment = None
    if data["status"] == "scheduled" and data.get("appointment_at"):
        appointment = svc.Appointment(
            at=data["appointment_at"],
            place=data.get("appointment_place"),
            link=data.get("appointment_link"),
            what_to_bring=data.get("what_to_bring"),
            family_contact=data.get("family_contact"),
        )
    if data["status"] == "sent":
        referral = svc.send_referral(referral_id, expected_version=version)
    else:
        referral = svc.transition_referral(
            referral_id,
            data["status"],
            reason=data.get("reason"),
            expected_version=version,
            appointment=appointment,
            redirected_to=data.get("redirected_to"),
        )
    return _referral_response(referral)


@blp.get("/<uuid:referral_id>/events")
@blp.response(200, EventSchema(many=True))
def list_events(referral_id):
    return svc.referral_events(referral_id)


@blp.get("/<uuid:referral_id>/attempts")
@blp.response(200, AttemptSchema(many=True))
def list_attempts(referral_id):
    return contact.list_attempts(referral_id)


@blp.post("/<uuid:referral_id>/attempts")
@blp.arguments(AttemptCreateSchema)
@blp.response(201, AttemptSchema)
@idempotent
def log_attempt(data, referral_id):
    return contact.log_attempt(referral_id, **data)


@blp.get("/<uuid:referral_id>/bounces")
@blp.response(200, BounceSchema(many=True))
def list_bounces(referral_id):
    return contact.list_bounces(referral_id)


@blp.post("/<uuid:referral_id>/bounces")
@blp.arguments(BounceCreateSchema)
@blp.response(201, BounceSchema)
@problem_doc(blp, 409, "The state machine refuses this move")
@if_match
def record_bounce(data, referral_id):
    """Bounce the referral (a reason is required); requires `If-Match`."""
    return contact.record_bounce(referral_id, expected_version=required_version(), **data)


@blp.post("/<uuid:referral_id>/resume")
@blp.response(200, ReferralSchema, headers=ETAG)
@problem_doc(blp, 409, "The state machine refuses this move")
@if_match
def resume(referral_id):
    """Return a bounced referral to the status it held; requires `If-Match`."""
    referral = contact.resume_after_bounce(referral_id, expected_version=required_version())
    return _referral_response(referral)


@blp.get("/<uuid:referral_id>/barriers")
@blp.response(200, BarrierSchema(many=True))
def list_barriers(referral_id):
    return navigation.list_barriers(referral_id)


@blp.post("/<uuid:referral_id>/barriers")
@blp.arguments(BarrierCreateSchema)
@blp.response(201, BarrierSchema)
@idempotent
def add_barrier(data, referral_id):
    return navigation.add_barrier(referral_id, **data)


@blp.post("/<uuid:referral_id>/escalations")
@blp.arguments(EscalationCreateSchema)
@blp.response(201, EscalationSchema)
@idempotent
def open_escalation(data, referral_id):
    return navigation.open_escalation(referral_id, reason=data.get("reason"))


@blp.get("/<uuid:referral_id>/family-plan")
@blp.response(200, FamilyPlanSchema)
def get_family_plan(referral_id):
    return family_plan(referral_id)
