"""The provider portal's landing page (the full portal is a later issue)."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services import directory, referrals

bp = Blueprint("provider", __name__, url_prefix="/provider")


@bp.get("")
@login_required("provider.referrals")
def index():
    partners = directory.provider_partner_districts()
    names = {tenant.id: tenant.name for tenant, _ in partners}
    rows = referrals.list_referrals(referrals.ReferralFilters(), limit=100)
    return render_template("provider/index.html", partners=partners, rows=rows, names=names)
