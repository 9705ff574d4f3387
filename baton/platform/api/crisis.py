"""The crisis pathway's record."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import ETAG_HEADER, check_if_match, with_representation_etag
from baton.platform.api.problems import problem_doc
from baton.platform.schemas.care import (
    CrisisCloseSchema,
    CrisisSchema,
    CrisisStepCreateSchema,
)
from baton.platform.services import crisis as svc

blp = Blueprint(
    "api_crisis",
    __name__,
    url_prefix=f"{PREFIX}/crisis-records",
    description="Tier C: timestamped crisis steps and the return-to-school plan",
)
blp.before_request(authenticate_api_request)
schema = CrisisSchema()


@blp.get("")
@blp.response(200, CrisisSchema(many=True))
def list_open():
    return svc.list_open_crises()


@blp.get("/<uuid:crisis_record_id>")
@blp.response(200, CrisisSchema, headers=ETAG_HEADER)
def get_crisis(crisis_record_id):
    return with_representation_etag(schema, svc.access_crisis(crisis_record_id))


@blp.post("/<uuid:crisis_record_id>/steps")
@blp.arguments(CrisisStepCreateSchema)
@blp.response(200, CrisisSchema, headers=ETAG_HEADER)
def add_step(data, crisis_record_id):
    """Append a timestamped step (steps only accumulate, so no If-Match is needed)."""
    return with_representation_etag(schema, svc.add_crisis_step(crisis_record_id, **data))


@blp.post("/<uuid:crisis_record_id>/close")
@blp.arguments(CrisisCloseSchema)
@blp.response(200, CrisisSchema, headers=ETAG_HEADER)
@problem_doc(blp, 412, "If-Match (optional) names an older state of the record")
def close(data, crisis_record_id):
    check_if_match(schema, svc.access_crisis(crisis_record_id))
    return with_representation_etag(schema, svc.close_crisis(crisis_record_id, **data))
