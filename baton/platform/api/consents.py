"""Consent capture and revocation."""

from flask_smorest import Blueprint

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.http import idempotent
from baton.platform.schemas.care import ConsentCreateSchema, ConsentSchema, RevokeSchema
from baton.platform.services import consent as svc

blp = Blueprint(
    "api_consents",
    __name__,
    url_prefix=f"{PREFIX}/consents",
    description="Consent to share with a provider",
)
blp.before_request(authenticate_api_request)


@blp.post("")
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentSchema)
@idempotent
def record_consent(data):
    student_id = data.pop("student_id")
    return svc.record_consent(student_id, **data)


@blp.get("/<uuid:consent_id>")
@blp.response(200, ConsentSchema)
def get_consent(consent_id):
    return svc.access_consent(consent_id)


@blp.post("/<uuid:consent_id>/revoke")
@blp.arguments(RevokeSchema)
@blp.response(200, ConsentSchema)
def revoke_consent(data, consent_id):
    return svc.revoke_consent(consent_id, reason=data.get("reason"))
