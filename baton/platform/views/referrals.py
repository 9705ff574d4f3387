"""The referral page for district staff: status and what is next, the whole timeline, how
the provider receives it (the FHIR delivery state), and the actions the role allows, each one
a service call (refusals re-render the page in words)."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import force_locale, format_datetime

from baton.platform import lifecycle
from baton.platform.auth import login_required
from baton.platform.errors import BatonError, InvalidInput
from baton.platform.extensions import db
from baton.platform.forms import choices
from baton.platform.models import (
    Caregiver,
    Concern,
    ProviderOrg,
    Service,
    Student,
    Tenant,
)
from baton.platform.permissions import can
from baton.platform.referral_forms import (
    AttemptForm,
    BarrierForm,
    BounceForm,
    ConfirmForm,
    EscalateForm,
    RetryForm,
    RevokeConsentForm,
    ScheduleForm,
    StatusForm,
    labelled,
)
from baton.platform.services import (
    consent,
    contact,
    delivery_state,
    navigation,
    outbox,
    status_links,
)
from baton.platform.services import referrals as svc
from baton.platform.services.family_plan import family_plan
from baton.platform.views.forms_util import attach, to_utc
from baton.platform.views.next_steps import next_step
from baton.platform.views.provider_actions import submitted_action
from baton.tenants.scoping import access, scoped

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
PRE_ACCEPT = ("sent", "received")


@bp.get("/<uuid:referral_id>")
@login_required("referral.manage")
def show(referral_id: uuid.UUID):
    referral = svc.access_referral(referral_id)
    return render_template("referrals/show.html", **_page(referral, _forms(referral)))


@bp.post("/<uuid:referral_id>")
@login_required("referral.manage")
def act(referral_id: uuid.UUID):
    """Run one action from the page; a refusal re-renders it with the reason by the form."""
    referral = svc.access_referral(referral_id, audit=False)
    forms = _forms(referral)
    name = submitted_action(forms)
    form = forms.get(name)
    if form is None:
        raise InvalidInput("Choose one of the actions on the referral page.")
    if not form.validate_on_submit():
        return _refused(referral_id, forms, name, form, 422)
    try:
        ACTIONS[name](referral, form)
    except BatonError as exc:
        db.session.rollback()
        attach(form, exc) if isinstance(exc, InvalidInput) else form.form_errors.append(exc.detail)
        return _refused(referral_id, forms, name, form, exc.status)
    back = request.form.get("next", "")
    if back.startswith(("/refer/", "/referrals/")) and "//" not in back:
        return redirect(back)
    return redirect(url_for("referrals.show", referral_id=referral_id, done=name) + f"#{name}")


def _refused(referral_id, forms, name, form, status):
    referral = svc.access_referral(referral_id)
    forms[name] = form
    html = render_template("referrals/show.html", **_page(referral, forms), failed=name)
    db.session.commit()  # the page was shown: its read audit row stays, nothing else changed
    return html, status


def _forms(referral) -> dict:
    """The action forms this role may use on this referral now (the page shows exactly these)."""
    forms = {}
    open_ = referral.status in lifecycle.OPEN
    if open_ and can(g.principal, "referral.manage"):
        forms["attempt"] = AttemptForm(prefix="attempt")
        forms["attempt"].caregiver_id.choices = _caregiver_choices(referral)
        forms["barrier"] = BarrierForm(prefix="barrier")
        forms["links"] = ConfirmForm(prefix="links")
        if referral.status == "bounced":
            forms["resume"] = ConfirmForm(prefix="resume")
        else:
            forms["bounce"] = BounceForm(prefix="bounce")
        # Bounce, resume and consent revocation have forms of their own.
        own = {"bounced", "consent-revoked", referral.status_before_bounce}
        targets = [t for t in _targets(referral) if t not in own]
        if targets:
            forms["status"] = StatusForm(prefix="status")
            forms["status"].status.choices = labelled(t for t in targets if t != "scheduled")
        phone_booking = referral.intake_route == "phone" and referral.status in PRE_ACCEPT
        if "scheduled" in targets or phone_booking:
            forms["schedule"] = ScheduleForm(prefix="schedule")
    if open_ and can(g.principal, "escalation.open"):
        forms["escalate"] = EscalateForm(prefix="escalate")
    if referral.consent_id and open_ and can(g.principal, "consent.manage"):
        forms["consent"] = RevokeConsentForm(prefix="consent")
    if referral.intake_route == "fhir" and can(g.principal, "admin.manage"):
        # Open or closed: a failed push is retried by the JSON API's rule (outbox.retry_message).
        forms["retry"] = RetryForm(prefix="retry")
        failed = _fhir_state(referral).failed
        forms["retry"].message_id.choices = choices((str(m.id), m.kind) for m in failed)
    for name, form in forms.items():
        form.action.data = name
        form.version.data = referral.version
    return forms


def _fhir_state(referral) -> delivery_state.ReferralFhirState:
    """Read once per request: the action forms and the page both show it."""
    if g.get("fhir_state_of") != referral.id:
        g.fhir_state = delivery_state.referral_fhir_state(referral.id)
        g.fhir_state_of = referral.id
    return g.fhir_state


def _targets(referral) -> list[str]:
    actors = (lifecycle.DISTRICT,)
    if referral.intake_route == "phone":  # the navigator records the phone provider's answers
        actors = (lifecycle.DISTRICT, lifecycle.PROVIDER)
    return lifecycle.targets_for(
        referral.status, actors, status_before_bounce=referral.status_before_bounce
    )


def _caregiver_choices(referral):
    rows = db.session.scalars(
        scoped(Caregiver)
        .where(Caregiver.student_id == referral.student_id)
        .order_by(Caregiver.created_at)
    ).all()
    return choices(
        (str(c.id), f"{c.name} (safe: {', '.join(c.allowed_channels) or 'none'})") for c in rows
    )


def _version(form):
    return form.version.data if form.version.data is not None else None


def _attempt(referral, form):
    contact.log_attempt(
        referral.id,
        caregiver_id=uuid.UUID(form.caregiver_id.data),
        channel=form.channel.data,
        outcome=form.outcome.data,
    )


def _bounce(referral, form):
    contact.record_bounce(
        referral.id,
        reason=form.reason.data,
        next_action=form.next_action.data or None,
        expected_version=_version(form),
    )


def _resume(referral, form):
    contact.resume_after_bounce(referral.id, expected_version=_version(form))


def _barrier(referral, form):
    navigation.add_barrier(referral.id, kind=form.kind.data, support=form.support.data or None)


def _escalate(referral, form):
    navigation.open_escalation(referral.id, reason=form.reason.data)


def _status(referral, form):
    svc.transition_referral(
        referral.id,
        form.status.data,
        reason=form.reason.data or None,
        redirected_to=form.redirected_to.data or None,
        expected_version=_version(form),
    )


def _schedule(referral, form):
    tz = db.session.get(Tenant, referral.tenant_id).timezone
    appointment = svc.Appointment(
        at=to_utc(form.appointment_at.data, tz),
        place=form.place.data or None,
        link=form.link.data or None,
        what_to_bring=form.what_to_bring.data or None,
        family_contact=form.family_contact.data or None,
    )
    if referral.intake_route == "phone":
        svc.record_phone_intake(referral.id, appointment, expected_version=_version(form))
    else:
        svc.transition_referral(
            referral.id, "scheduled", appointment=appointment, expected_version=_version(form)
        )


def _links(referral, form):
    status_links.revoke_status_links(referral.id)


def _consent(referral, form):
    consent.revoke_consent(referral.consent_id, reason=form.reason.data or None)


def _retry(referral, form):
    outbox.retry_message(uuid.UUID(form.message_id.data))


ACTIONS = {
    "attempt": _attempt,
    "bounce": _bounce,
    "resume": _resume,
    "barrier": _barrier,
    "escalate": _escalate,
    "status": _status,
    "schedule": _schedule,
    "links": _links,
    "consent": _consent,
    "retry": _retry,
}


def _page(referral, forms) -> dict:
    student = access(db.session, Student, referral.student_id)
    concern = access(db.session, Concern, referral.concern_id)
    text, dues = next_step(referral)
    return {
        "r": referral,
        "student": student,
        "concern": concern,
        "provider": db.session.get(ProviderOrg, referral.provider_id),
        "service": db.session.get(Service, referral.service_id) if referral.service_id else None,
        "next_text": text,
        "dues": dues,
        "events": svc.referral_events(referral.id),
        "attempts": contact.list_attempts(referral.id),
        "bounces": contact.list_bounces(referral.id),
        "barriers": navigation.list_barriers(referral.id),
        "escalations": navigation.list_escalations(None, referral_id=referral.id)
        if can(g.principal, "escalation.open")
        else [],
        "consent": consent.access_consent(referral.consent_id) if referral.consent_id else None,
        "live_links": len(status_links.live_links(referral.id)),
        "fhir": _fhir_state(referral),
        "caregivers": {c.id: c.name for c in student.caregivers},
        "forms": forms,
        "done": request.args.get("done"),
        "bounce_fixes": lifecycle.BOUNCE_REASONS,
    }


@bp.get("/<uuid:referral_id>/family-plan")
@login_required("referral.manage")
def family_plan_page(referral_id: uuid.UUID):
    """The printable family plan, in the family's language."""
    plan = family_plan(referral_id)
    tenant = db.session.get(Tenant, svc.access_referral(referral_id, audit=False).tenant_id)
    local_time = (
        plan.appointment_at.astimezone(ZoneInfo(tenant.timezone)) if plan.appointment_at else None
    )
    with force_locale(plan.language):
        when = format_datetime(local_time, "full", rebase=False) if local_time else None
        return render_template("family_plan.html", plan=plan, when=when, referral_id=referral_id)
