"""A coordinator's caseload, with the weekly review list on top."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services.caseload import caseload

bp = Blueprint("caseload", __name__, url_prefix="/caseload")


@bp.get("")
@login_required("caseload.read")
def index():
    rows = caseload()
    review = [r for r in rows if r.review_reasons]
    return render_template("caseload/index.html", rows=rows, review=review)
