"""The provider portal for intake staff without an EHR: referrals addressed to their
organisation (only consented fields) and the same moves as FHIR."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, request, url_for

from baton.platform import lifecycle
from baton.platform.auth import login_required
from baton.platform.errors import BatonError, InvalidInput
from baton.platform.extensions import db
from baton.platform.referral_forms import ConfirmForm
from baton.platform.services import directory, status_links
from baton.platform.services.portal import provider_inbox, provider_referral
from baton.platform.views.forms_util import attach
from baton.platform.views.provider_actions import apply_provider_action, chosen, provider_forms
from baton.platform.views.provider_services import services_bp

bp = Blueprint("provider", __name__, url_prefix="/provider")
bp.register_blueprint(services_bp)
PORTAL_FILTERS = ("sent", "received", "accepted", "scheduled", "no-show", "engaged")


@bp.get("")
@login_required("provider.referrals")
def index():
    status = request.args.get("status", "")
    status = status if status in lifecycle.STATUSES else ""
    rows = provider_inbox(status)
    return render_template(
        "provider/index.html",
        partners=directory.provider_partner_districts(),
        rows=rows,
        status=status,
        filters=PORTAL_FILTERS,
    )


def _forms(referral) -> dict:
    forms = provider_forms(referral)
    if referral.status in lifecycle.OPEN:
        forms["links"] = ConfirmForm(prefix="links")
        forms["links"].action.data = "links"
    return forms


@bp.get("/referrals/<uuid:referral_id>")
@login_required("provider.referrals")
def show(referral_id: uuid.UUID):
    view = provider_referral(referral_id)
    return render_template(
        "provider/show.html",
        v=view,
        r=view.referral,
        forms=_forms(view.referral),
        done=request.args.get("done"),
        failed=None,
    )


@bp.post("/referrals/<uuid:referral_id>")
@login_required("provider.referrals")
def act(referral_id: uuid.UUID):
    view = provider_referral(referral_id, with_events=False)
    forms = _forms(view.referral)
    name, form = chosen(forms)
    if form is None:
        raise InvalidInput("Choose one of the actions on the referral.")
    try:
        if not form.validate_on_submit():
            raise InvalidInput()
        if name == "links":
            status_links.revoke_status_links(view.referral.id)
        else:
            apply_provider_action(view.referral, name, form)
    except BatonError as exc:
        db.session.rollback()
        if isinstance(exc, InvalidInput):
            if exc.fields or exc.detail != InvalidInput.title:
                attach(form, exc)
        else:
            form.form_errors.append(exc.detail)
        view = provider_referral(referral_id)
        forms[name] = form
        html = render_template(
            "provider/show.html", v=view, r=view.referral, forms=forms, done=None, failed=name
        )
        db.session.commit()  # keep the read's audit row; nothing else changed
        return html, exc.status
    return redirect(url_for("provider.show", referral_id=referral_id, done=name))
