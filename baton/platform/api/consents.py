"""Consent capture and revocation."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import (
    ETAG_HEADER,
    check_if_match,
    idempotent,
    with_representation_etag,
)
from baton.platform.api.problems import problem_doc
from baton.platform.schemas.care import ConsentCreateSchema, ConsentSchema, RevokeSchema
from baton.platform.services import consent as svc

blp = Blueprint(
    "api_consents",
    __name__,
    url_prefix=f"{PREFIX}/consents",
    description="Consent to share with a provider",
)
blp.before_request(authenticate_api_request)
schema = ConsentSchema()


@blp.post("")
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentSchema, headers=ETAG_HEADER)
@idempotent
def record_consent(data):
    student_id = data.pop("student_id")
    return with_representation_etag(schema, svc.record_consent(student_id, **data), 201)


@blp.get("/<uuid:consent_id>")
@blp.response(200, ConsentSchema, headers=ETAG_HEADER)
def get_consent(consent_id):
    return with_representation_etag(schema, svc.access_consent(consent_id))


@blp.post("/<uuid:consent_id>/revoke")
@blp.arguments(RevokeSchema)
@blp.response(200, ConsentSchema, headers=ETAG_HEADER)
@problem_doc(blp, 412, "If-Match (optional) names an older state of the consent")
def revoke_consent(data, consent_id):
    """Revoke: sharing stops at once and open referrals under it become consent-revoked."""
    check_if_match(schema, svc.access_consent(consent_id))
    return with_representation_etag(
        schema, svc.revoke_consent(consent_id, reason=data.get("reason"))
    )
