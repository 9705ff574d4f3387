"""The district's schools, and where each is (the directory measures distances from it)."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.schemas.care import SchoolLocationSchema, SchoolSchema
from baton.platform.services import district_admin
from baton.platform.services.common import require_permission
from baton.platform.services.students import list_schools

blp = Blueprint(
    "api_schools",
    __name__,
    url_prefix=f"{PREFIX}/schools",
    description="Schools and their locations",
)
blp.before_request(authenticate_api_request)


@blp.get("")
@blp.response(200, SchoolSchema(many=True))
def get_schools():
    require_permission("directory.read", "student.read", "admin.manage")
    return list_schools()


@blp.post("/<uuid:school_id>/location")
@blp.arguments(SchoolLocationSchema)
@blp.response(200, SchoolSchema)
def set_location(data, school_id):
    """Set where the school is (decimal degrees), or clear it with two nulls (admins)."""
    return district_admin.set_school_location(school_id, **data)
