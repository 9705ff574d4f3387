"""The county commissioners' view: aggregates only, small cells suppressed."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services import directory

bp = Blueprint("county", __name__, url_prefix="/county")


@bp.get("")
@login_required("county.metrics")
def index():
    return render_template("county/index.html", rows=directory.county_overview())
