"""The provider directory."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.schemas.care import DirectoryServiceSchema, ServiceQueryArgs
from baton.platform.services.providers import search_services

blp = Blueprint(
    "api_directory",
    __name__,
    url_prefix=f"{PREFIX}/directory",
    description="Providers and their services",
)
blp.before_request(authenticate_api_request)


@blp.get("/services")
@blp.arguments(ServiceQueryArgs, location="query")
@blp.response(200, DirectoryServiceSchema(many=True))
def list_services(args):
    return search_services(**args)
