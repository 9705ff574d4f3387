"""The provider portal's landing page (referral intake arrives with the closed-loop issue)."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services import directory

bp = Blueprint("provider", __name__, url_prefix="/provider")


@bp.get("")
@login_required("provider.referrals")
def index():
    return render_template("provider/index.html", partners=directory.provider_partner_districts())
