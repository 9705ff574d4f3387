"""Landing pages for navigators and escalation leads (the full UI is a later issue)."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services import navigation, notifications, referrals

bp = Blueprint("home", __name__)


@bp.get("/tracker")
@login_required("referral.manage")
def tracker():
    rows = referrals.tracker()
    counters = {
        "open": len(rows),
        "overdue": sum(r.overdue for r in rows),
        "high_need": sum(r.referral.high_need for r in rows),
        "bounced": sum(r.referral.status == "bounced" for r in rows),
    }
    return render_template("home/tracker.html", rows=rows, counters=counters)


@bp.get("/escalations")
@login_required("escalation.manage")
def escalations():
    return render_template("home/escalations.html", rows=navigation.list_escalations("open"))


@bp.get("/notifications")
@login_required("referral.read")
def notifications_page():
    return render_template(
        "home/notifications.html", rows=notifications.my_notifications(unread_only=False)
    )
