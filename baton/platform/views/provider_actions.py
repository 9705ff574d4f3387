"""The provider's moves on one referral, shared by the portal and the one-link page: the same
transitions as FHIR (lifecycle.py), each a call to ``transition_referral``."""

from __future__ import annotations

from flask import request

from baton.platform import lifecycle
from baton.platform.extensions import db
from baton.platform.models import Tenant
from baton.platform.referral_forms import (
    CloseForm,
    ConfirmForm,
    DeclineForm,
    DisengagedForm,
    RedirectForm,
    ScheduleForm,
    labelled,
)
from baton.platform.services import referrals as svc
from baton.platform.views.forms_util import to_utc

ONE_CLICK = {
    "received": "Confirm receipt",
    "accepted": "Accept referral",
    "first-appointment-attended": "Attended first appointment",
    "no-show": "No-show",
    "engaged": "Engaged (ongoing)",
}


def provider_forms(referral, allowed: tuple[str, ...] | None = None) -> dict:
    """name -> form for every move the provider may make now (limited to ``allowed``)."""
    targets = lifecycle.targets_for(
        referral.status, (lifecycle.PROVIDER,), status_before_bounce=referral.status_before_bounce
    )
    if allowed is not None:
        targets = [t for t in targets if t in allowed]
    forms = {}
    for target in targets:
        if target in ONE_CLICK:
            forms[target] = ConfirmForm(prefix=target)
    if "declined" in targets:
        forms["declined"] = DeclineForm(prefix="declined")
    if "redirected" in targets:
        forms["redirected"] = RedirectForm(prefix="redirected")
    if "scheduled" in targets:
        forms["scheduled"] = ScheduleForm(prefix="scheduled")
    if "disengaged" in targets:
        forms["disengaged"] = DisengagedForm(prefix="disengaged")
    closures = [t for t in lifecycle.PROVIDER_CLOSURES if t in targets]
    if closures:
        forms["close"] = CloseForm(prefix="close")
        forms["close"].status.choices = labelled(closures)
    for name, form in forms.items():
        form.action.data = name
        form.version.data = referral.version
    return forms


def chosen(forms: dict):
    """The submitted form, named by its (prefixed) ``action`` field, or None."""
    name = submitted_action(forms)
    return name, forms.get(name)


def submitted_action(forms: dict) -> str:
    for key, value in request.form.items():
        if (key == "action" or key.endswith("-action")) and value in forms:
            return value
    return ""


def apply_provider_action(referral, name: str, form) -> str:
    """Make the move; returns the status entered. Service errors propagate to the caller."""
    version = form.version.data
    if name == "scheduled":
        tz = db.session.get(Tenant, referral.tenant_id).timezone
        appointment = svc.Appointment(
            at=to_utc(form.appointment_at.data, tz),
            place=form.place.data or None,
            link=form.link.data or None,
            what_to_bring=form.what_to_bring.data or None,
            family_contact=form.family_contact.data or None,
        )
        svc.transition_referral(
            referral.id, "scheduled", appointment=appointment, expected_version=version
        )
        return "scheduled"
    target = form.status.data if name == "close" else name
    reason = getattr(form, "reason", None)
    redirected = getattr(form, "redirected_to", None)
    svc.transition_referral(
        referral.id,
        target,
        reason=(reason.data or None) if reason is not None else None,
        redirected_to=redirected.data if redirected is not None else None,
        expected_version=version,
    )
    return target
