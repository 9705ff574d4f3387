"""The navigator's weekly tracker, the lead's escalation queue, and notifications."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, redirect, render_template, request, url_for

from baton.platform import lifecycle
from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.forms import LANGUAGES
from baton.platform.permissions import can
from baton.platform.referral_forms import NoteForm
from baton.platform.services import directory, navigation, notifications, referrals
from baton.platform.services.students import list_schools
from baton.platform.views.forms_util import attach, uuid_or_none

bp = Blueprint("home", __name__)
FILTERS = ("school", "provider", "status", "tier", "language", "need")


@bp.get("/tracker")
@login_required("referral.manage")
def tracker():
    """Every open referral the user may see; filters live in the URL (bookmarkable)."""
    args = {k: request.args.get(k, "")[:64] for k in FILTERS}
    filters = referrals.ReferralFilters(
        status=args["status"] if args["status"] in lifecycle.OPEN else None,
        school_id=uuid_or_none(args["school"]),
        provider_id=uuid_or_none(args["provider"]),
        tier=args["tier"] if args["tier"] in ("A", "B") else None,
        high_need=True if args["need"] == "high" else None,
    )
    rows = referrals.tracker(filters, language=args["language"] or None)
    counters = {
        "open": len(rows),
        "overdue": sum(r.overdue for r in rows),
        "high_need": sum(r.referral.high_need for r in rows),
        "bounced": sum(r.referral.status == "bounced" for r in rows),
    }
    decisions = [r for r in rows if r.referral.bounce_decision_due_since]
    escalations = navigation.list_escalations("open") if can(g.principal, "escalation.open") else []
    return render_template(
        "home/tracker.html",
        rows=rows,
        counters=counters,
        decisions=decisions,
        escalations=escalations,
        escalation_rows=referrals.named_referrals(e.referral_id for e in escalations),
        args=args,
        schools=list_schools(),
        providers=[(p, o) for p, o in directory.district_partnerships()],
        statuses=sorted(lifecycle.OPEN, key=lifecycle.STATUSES.index),
        languages=LANGUAGES,
        filtered=any(args.values()),
    )


@bp.get("/escalations")
@login_required("escalation.manage")
def escalations():
    rows = navigation.list_escalations("open")
    forms = {e.id: NoteForm(prefix=f"e{e.id.hex[:8]}") for e in rows}
    return render_template(
        "home/escalations.html",
        rows=rows,
        refs=referrals.named_referrals(e.referral_id for e in rows),
        forms=forms,
        failed=None,
    )


@bp.post("/escalations/<uuid:escalation_id>/close")
@login_required("escalation.manage")
def close_escalation(escalation_id: uuid.UUID):
    """Close an escalation once connection is confirmed or an alternative plan is recorded."""
    escalation = navigation.access_escalation(escalation_id)
    form = NoteForm(prefix=f"e{escalation.id.hex[:8]}")
    try:
        if not form.validate_on_submit():
            raise InvalidInput(fields={"resolution": "choose how it was resolved"})
        navigation.close_escalation(
            escalation.id, resolution=form.resolution.data, note=form.note.data
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(form, exc)
        rows = navigation.list_escalations("open")
        forms = {e.id: NoteForm(prefix=f"e{e.id.hex[:8]}") for e in rows} | {escalation.id: form}
        html = render_template(
            "home/escalations.html",
            rows=rows,
            refs=referrals.named_referrals(e.referral_id for e in rows),
            forms=forms,
            failed=escalation.id,
        )
        return html, 422
    return redirect(url_for("home.escalations", closed=1))


@bp.get("/notifications")
@login_required("referral.read")
def notifications_page():
    return render_template(
        "home/notifications.html", rows=notifications.my_notifications(unread_only=False)
    )
