"""The escalation queue."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import ETAG_HEADER, check_if_match, with_representation_etag
from baton.platform.api.problems import problem_doc
from baton.platform.schemas.care import (
    EscalationCloseSchema,
    EscalationQueryArgs,
    EscalationSchema,
)
from baton.platform.services import navigation

schema = EscalationSchema()

blp = Blueprint(
    "api_escalations",
    __name__,
    url_prefix=f"{PREFIX}/escalations",
    description="Escalations for non-connection",
)
blp.before_request(authenticate_api_request)


@blp.get("")
@blp.arguments(EscalationQueryArgs, location="query")
@blp.response(200, EscalationSchema(many=True))
def list_escalations(args):
    return navigation.list_escalations(args["status"])


@blp.get("/<uuid:escalation_id>")
@blp.response(200, EscalationSchema, headers=ETAG_HEADER)
def get_escalation(escalation_id):
    return with_representation_etag(schema, navigation.access_escalation(escalation_id))


@blp.post("/<uuid:escalation_id>/close")
@blp.arguments(EscalationCloseSchema)
@blp.response(200, EscalationSchema, headers=ETAG_HEADER)
@problem_doc(blp, 412, "If-Match (optional) names an older state of the escalation")
def close_escalation(data, escalation_id):
    check_if_match(schema, navigation.access_escalation(escalation_id))
    return with_representation_etag(schema, navigation.close_escalation(escalation_id, **data))
