"""Governance figures as JSON: the district's own (metrics.read) and the county's suppressed
aggregates (commissioners), so both can pull them into their own tools."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.metrics.periods import Month
from baton.platform.models.base import utcnow
from baton.platform.schemas.metrics import (
    CountyFiguresArgs,
    CountyFiguresSchema,
    DistrictFiguresArgs,
    DistrictFiguresSchema,
)
from baton.platform.services import county_metrics, metrics

blp = Blueprint(
    "api_metrics", __name__, url_prefix=f"{PREFIX}/metrics", description="District figures"
)
blp.before_request(authenticate_api_request)
county_blp = Blueprint(
    "api_county",
    __name__,
    url_prefix=f"{PREFIX}/county",
    description="County aggregates, small cells suppressed",
)
county_blp.before_request(authenticate_api_request)


@blp.get("")
@blp.arguments(DistrictFiguresArgs, location="query")
@blp.response(200, DistrictFiguresSchema)
def district_figures(args):
    """Every metric for one month, overall and per group of one breakdown, with the
    breakdown's equity signals (formulas: docs/metrics.md)."""
    month = Month.parse(args["month"], utcnow().date())
    figures = metrics.district_figures(month, (args["breakdown"],))
    return metrics.as_json(figures, args["breakdown"])


@county_blp.get("/figures")
@county_blp.arguments(CountyFiguresArgs, location="query")
@county_blp.response(200, CountyFiguresSchema)
def county_figures(args):
    """The county view's tables for one month and breakdown: suppressed cells are null."""
    month = Month.parse(args["month"], utcnow().date())
    return county_metrics.as_json(county_metrics.county_figures(month, args["breakdown"]))
