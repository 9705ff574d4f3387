"""The one-link status update: a one-page form, no password, for exactly one referral.

The token arrives in the query string (GET) or the form (POST) and is checked on every
request; the page then acts as a provider principal bound to that referral (see
services/status_links.py), so nothing else is reachable from it. Every use is audited."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from baton.platform.errors import BatonError, InvalidInput
from baton.platform.extensions import db
from baton.platform.services.portal import provider_referral
from baton.platform.services.status_links import (
    LINK_ACTIONS,
    LinkRefused,
    open_status_link,
    record_link_use,
)
from baton.platform.views.forms_util import attach
from baton.platform.views.provider_actions import apply_provider_action, chosen, provider_forms
from baton.tenants.context import acting_as

bp = Blueprint("status_link", __name__)


def _token() -> str:
    return (request.values.get("token") or "")[:1000]


@bp.errorhandler(LinkRefused)
def refused(exc: LinkRefused):
    db.session.commit()  # keep the refused use's audit row (the refusal changed nothing else)
    return render_template("status_link/refused.html", detail=exc.detail), exc.status


@bp.get("/status-update")
def show():
    token = _token()
    opened = open_status_link(token)
    with acting_as(opened.principal):
        view = provider_referral(opened.link.referral_id)
        record_link_use(opened, "view")
        forms = provider_forms(view.referral, LINK_ACTIONS)
        return render_template(
            "status_link/show.html", v=view, r=view.referral, forms=forms, token=token, failed=None
        )


@bp.post("/status-update")
def update():
    token = _token()
    opened = open_status_link(token)
    with acting_as(opened.principal):
        view = provider_referral(opened.link.referral_id, with_events=False)
        forms = provider_forms(view.referral, LINK_ACTIONS)
        name, form = chosen(forms)
        source = view.referral.status
        try:
            if form is None:
                raise InvalidInput("That update is not possible for this referral now.")
            if not form.validate_on_submit():
                raise InvalidInput()
            target = apply_provider_action(view.referral, name, form)
        except BatonError as exc:
            return _failed(opened, token, name, form, exc)
        record_link_use(opened, "update", {"from": source, "to": target})
        return render_template("status_link/done.html", r=view.referral, target=target, token=token)


def _failed(opened, token, name, form, exc: BatonError):
    db.session.rollback()
    view = provider_referral(opened.link.referral_id)
    forms = provider_forms(view.referral, LINK_ACTIONS)
    if form is not None:
        if exc.fields or exc.detail != InvalidInput.title:
            attach(form, exc) if isinstance(exc, InvalidInput) else form.form_errors.append(
                exc.detail
            )
        forms[name] = form
    message = None if form is not None else exc.detail
    html = render_template(
        "status_link/show.html",
        v=view,
        r=view.referral,
        forms=forms,
        token=token,
        failed=name,
        message=message,
    )
    record_link_use(opened, "refused", {"action": name})
    db.session.commit()  # the read and the refused use stay audited; nothing else changed
    return html, exc.status
