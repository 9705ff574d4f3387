"""The escalation queue."""

from flask_smorest import Blueprint

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.schemas.care import (
    EscalationCloseSchema,
    EscalationQueryArgs,
    EscalationSchema,
)
from baton.platform.services import navigation

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


@blp.post("/<uuid:escalation_id>/close")
@blp.arguments(EscalationCloseSchema)
@blp.response(200, EscalationSchema)
def close_escalation(data, escalation_id):
    return navigation.close_escalation(escalation_id, **data)
