"""Landing pages for navigators and escalation leads (the full tracker arrives with the UI)."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services import students as svc

bp = Blueprint("home", __name__)


@bp.get("/tracker")
@login_required("referral.manage")
def tracker():
    return render_template("home/tracker.html", schools=svc.list_schools())


@bp.get("/escalations")
@login_required("escalation.manage")
def escalations():
    return render_template("home/escalations.html")
