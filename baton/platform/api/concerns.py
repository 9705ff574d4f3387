"""Concerns and triage."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import idempotent
from baton.platform.errors import NotFound
from baton.platform.extensions import db
from baton.platform.models import Concern
from baton.platform.schemas.care import ConcernCreateSchema, ConcernSchema
from baton.platform.services import triage
from baton.platform.services.common import require_permission
from baton.tenants.scoping import access

blp = Blueprint(
    "api_concerns",
    __name__,
    url_prefix=PREFIX,
    description="Concerns, triage tiers and high-need flags",
)
blp.before_request(authenticate_api_request)


@blp.post("/students/<uuid:student_id>/concerns")
@blp.arguments(ConcernCreateSchema)
@blp.response(201, ConcernSchema)
@idempotent
def record_concern(data, student_id):
    return triage.record_concern(student_id, **data)


@blp.get("/concerns/<uuid:concern_id>")
@blp.response(200, ConcernSchema)
def get_concern(concern_id):
    require_permission("referral.read")
    concern = access(db.session, Concern, concern_id)
    if concern is None:
        raise NotFound("No such concern")
    return concern
