"""District settings: time standards and the versioned triage checklist (admins)."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import ETAG_HEADER, check_if_match, with_representation_etag
from baton.platform.api.problems import problem_doc
from baton.platform.schemas.care import (
    ChecklistCreateSchema,
    ChecklistSchema,
    SettingsSchema,
    SettingsUpdateSchema,
)
from baton.platform.services import settings as svc
from baton.platform.services.common import require_permission

blp = Blueprint(
    "api_settings",
    __name__,
    url_prefix=f"{PREFIX}/settings",
    description="Time standards, designated lead and triage checklist",
)
blp.before_request(authenticate_api_request)
settings_schema = SettingsSchema()


@blp.get("")
@blp.response(200, SettingsSchema, headers=ETAG_HEADER)
def get_settings():
    require_permission("admin.manage", "referral.manage")
    return with_representation_etag(settings_schema, svc.tenant_settings())


@blp.post("")
@blp.arguments(SettingsUpdateSchema)
@blp.response(200, SettingsSchema, headers=ETAG_HEADER)
@problem_doc(blp, 412, "If-Match (optional) names older settings")
def update_settings(data):
    require_permission("admin.manage")
    check_if_match(settings_schema, svc.tenant_settings())
    return with_representation_etag(settings_schema, svc.update_settings(**data))


@blp.get("/triage-checklist")
@blp.response(200, ChecklistSchema)
def get_checklist():
    require_permission("concern.create", "admin.manage")
    return svc.active_checklist()


@blp.post("/triage-checklist")
@blp.arguments(ChecklistCreateSchema)
@blp.response(201, ChecklistSchema)
def publish_checklist(data):
    """Publish a new version; concerns keep the version that tiered them."""
    return svc.publish_checklist(data["questions"], data["high_need_criteria"])
