"""The county commissioners' view: cross-district aggregates only, small cells suppressed."""

from flask import Blueprint, render_template, request
from markupsafe import Markup

from baton.platform.auth import login_required
from baton.platform.metrics.periods import Month
from baton.platform.models.base import utcnow
from baton.platform.services import county_metrics
from baton.platform.services.metric_reads import BREAKDOWNS, COUNTY_BREAKDOWNS

bp = Blueprint("county", __name__, url_prefix="/county")

SUPPRESSED = Markup('<td class="suppressed">suppressed</td>')


@bp.app_template_filter("count_cell")
def count_cell(n: int | None) -> Markup:
    """A published count's table cell, or the suppressed one (a filter: many cells a page)."""
    return SUPPRESSED if n is None else Markup("<td>%d</td>") % n


@bp.get("")
@login_required("county.metrics")
def index():
    month = Month.parse(request.args.get("month"), utcnow().date())
    figures = county_metrics.county_figures(month, request.args.get("breakdown"))
    return render_template(
        "county/index.html",
        figures=figures,
        breakdowns=[(k, BREAKDOWNS[k][1]) for k in COUNTY_BREAKDOWNS],
    )
