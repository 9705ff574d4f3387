"""Referral pages for staff. (The full referral page arrives with the UI issue.)"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask_babel import force_locale, format_datetime

from baton.platform.auth import login_required
from baton.platform.extensions import db
from baton.platform.models import Tenant
from baton.platform.services.family_plan import family_plan

bp = Blueprint("referrals", __name__, url_prefix="/referrals")


@bp.get("/<uuid:referral_id>/family-plan")
@login_required("referral.read")
def family_plan_page(referral_id: uuid.UUID):
    """The printable family plan, in the family's language."""
    plan = family_plan(referral_id)
    tenant = db.session.get(Tenant, _tenant_of(referral_id))
    local_time = (
        plan.appointment_at.astimezone(ZoneInfo(tenant.timezone)) if (plan.appointment_at) else None
    )
    with force_locale(plan.language):
        when = format_datetime(local_time, "full", rebase=False) if local_time else None
        return render_template("family_plan.html", plan=plan, when=when)


def _tenant_of(referral_id):
    from baton.platform.services.referrals import access_referral

    return access_referral(referral_id, audit=False).tenant_id
