"""The new-referral wizard: student → concern and triage → tier → provider search → consent →
warm handoff → family plan. Each step is saved through the services as it is completed, so
the URL of every step is bookmarkable and a refresh loses nothing. Tier C goes to the crisis
pathway instead."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, request, url_for

from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.forms import CaregiverForm, StudentForm, choices
from baton.platform.models import Concern, CrisisRecord, ProviderOrg, Service, TriageChecklist
from baton.platform.services import consent as consent_svc
from baton.platform.services import directory, providers, settings, triage
from baton.platform.services import referrals as referral_svc
from baton.platform.services import students as student_svc
from baton.platform.views.forms_util import attach, form_status
from baton.platform.wizard_forms import (
    HANDOFF_STEPS,
    ConsentForm,
    HandoffForm,
    SearchForm,
    triage_form,
)
from baton.tenants.scoping import access, scoped

bp = Blueprint("wizard", __name__, url_prefix="/refer")
STEPS = ("Student", "Concern and triage", "Provider", "Consent", "Warm handoff", "Family plan")


def _render(template, step, status=200, **context):
    return render_template(template, steps=STEPS, step=step, **context), status


@bp.get("")
@login_required("referral.manage")
def start():
    query = request.args.get("q", "")[:100]
    result = student_svc.list_students(query=query) if query else None
    return _render("wizard/student.html", 0, query=query, result=result)


@bp.route("/new-student", methods=["GET", "POST"])
@login_required("referral.manage")
def new_student():
    """Add a student and their first caregiver with safe-contact preferences, in one form."""
    form, caregiver = StudentForm(prefix="s"), CaregiverForm(prefix="c")
    form.school_id.choices = choices((str(s.id), s.name) for s in student_svc.list_schools())
    valid = form.validate_on_submit() & caregiver.validate_on_submit()
    if not valid:
        return _render("wizard/new_student.html", 0, form_status(), form=form, caregiver=caregiver)
    try:
        with db.session.begin_nested():
            student = student_svc.create_student(
                **_data(form) | {"school_id": uuid.UUID(form.school_id.data)}
            )
            student_svc.add_caregiver(student.id, **_data(caregiver))
    except InvalidInput as exc:
        attach(form if set(exc.fields) & set(form._fields) else caregiver, exc)
        return _render("wizard/new_student.html", 0, 422, form=form, caregiver=caregiver)
    return redirect(url_for("wizard.concern", student_id=student.id))


def _data(form) -> dict:
    return {k: v for k, v in form.data.items() if k != "csrf_token"}


@bp.route("/<uuid:student_id>", methods=["GET", "POST"])
@login_required("referral.manage")
def concern(student_id: uuid.UUID):
    """Record the concern and answer the district's current triage checklist."""
    student = student_svc.access_student(student_id, audit=request.method == "GET")
    checklist = settings.active_checklist()
    form = triage_form(checklist)
    if not form.validate_on_submit():
        return _render(
            "wizard/concern.html", 1, form_status(), student=student, form=form, checklist=checklist
        )
    answers = {q["key"]: form[f"q_{q['key']}"].data == "yes" for q in checklist.questions}
    high = {c["key"]: form[f"h_{c['key']}"].data == "yes" for c in checklist.high_need_criteria}
    try:
        recorded = triage.record_concern(
            student.id,
            source=form.source.data,
            answers=answers,
            high_need_answers=high,
            summary=form.summary.data,
        )
    except InvalidInput as exc:
        attach(form, exc)
        return _render(
            "wizard/concern.html", 1, 422, student=student, form=form, checklist=checklist
        )
    if recorded.tier == "C":
        crisis = db.session.scalars(
            scoped(CrisisRecord).where(CrisisRecord.concern_id == recorded.id)
        ).one()
        return redirect(url_for("crisis.show", crisis_record_id=crisis.id, new=1))
    return redirect(url_for("wizard.provider", concern_id=recorded.id))


def _concern(concern_id) -> tuple[Concern, object]:
    found = access(db.session, Concern, concern_id)
    if found is None:
        raise NotFound("No such concern")
    student = student_svc.access_student(found.student_id, audit=False)
    if found.tier == "C":
        raise InvalidInput("A tier C concern follows the crisis pathway, not a referral.")
    return found, student


@bp.get("/concern/<uuid:concern_id>")
@login_required("referral.manage")
def provider(concern_id: uuid.UUID):
    """The tier and why, then the directory: partner providers' services matching the filters."""
    found, student = _concern(concern_id)
    search = SearchForm(request.args)
    if request.args and not search.validate():
        for f in search:  # a filter that is not one of the choices is shown as such, unused
            if f.errors:
                f.data = None
    if not search.language.data and "language" not in request.args:
        search.language.data = student.preferred_language
    partners = {p.provider_id for p, _ in directory.district_partnerships() if p.active}
    services = [
        s
        for s in providers.search_services(
            language=search.language.data or None,
            modality="on-campus" if search.on_campus.data else (search.modality.data or None),
            insurance=search.insurance.data or None,
            service_type=search.service_type.data or None,
            max_wait_days=int(search.max_wait.data) if search.max_wait.data else None,
        )
        if s["provider_id"] in partners
    ]
    checklist = db.session.get(TriageChecklist, (found.tenant_id, found.checklist_id))
    why_yes = [q for q in checklist.questions if found.answers.get(q["key"])]
    reasons = found.high_need_reasons
    why_high = [c["text"] for c in checklist.high_need_criteria if c["key"] in reasons]
    return _render(
        "wizard/provider.html",
        2,
        why_yes=why_yes,
        why_high=why_high,
        student=student,
        concern=found,
        search=search,
        services=services,
        checklist=checklist,
    )


def _service(concern_found) -> Service:
    service = (
        db.session.get(Service, uuid.UUID(request.args["service"]))
        if _is_uuid(request.args.get("service"))
        else None
    )
    partners = {p.provider_id for p, _ in directory.district_partnerships() if p.active}
    if service is None or not service.active or service.provider_id not in partners:
        raise InvalidInput("Choose a service of one of your district's partner providers first.")
    return service


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(value or "")
        return True
    except ValueError:
        return False


@bp.route("/concern/<uuid:concern_id>/consent", methods=["GET", "POST"])
@login_required("referral.manage")
def consent(concern_id: uuid.UUID):
    """Capture consent to share with the chosen provider (skipped when one is active)."""
    found, student = _concern(concern_id)
    service = _service(found)
    provider_org = db.session.get(ProviderOrg, service.provider_id)
    existing = consent_svc.active_consent(student.id, service.provider_id)
    form = ConsentForm()
    form.caregiver_id.choices = choices(
        [("", "—"), *((str(c.id), c.name) for c in student.caregivers)]
    )
    if request.method == "GET" or not form.validate_on_submit():
        return _render(
            "wizard/consent.html",
            3,
            form_status(),
            student=student,
            concern=found,
            service=service,
            provider=provider_org,
            form=form,
            existing=existing,
        )
    try:
        consent_svc.record_consent(
            student.id,
            provider_id=service.provider_id,
            consenter=form.consenter.data,
            caregiver_id=uuid.UUID(form.caregiver_id.data) if form.caregiver_id.data else None,
            share_classes=form.share_classes.data,
            method=form.method.data,
            witness=form.witness.data or None,
            expires_on=form.expires_on.data,
        )
    except InvalidInput as exc:
        attach(form, exc)
        return _render(
            "wizard/consent.html",
            3,
            422,
            student=student,
            concern=found,
            service=service,
            provider=provider_org,
            form=form,
            existing=None,
        )
    return redirect(url_for("wizard.handoff", concern_id=found.id, service=service.id))


@bp.route("/concern/<uuid:concern_id>/handoff", methods=["GET", "POST"])
@login_required("referral.manage")
def handoff(concern_id: uuid.UUID):
    """The warm-handoff checklist with the caregiver present; sending starts the clock."""
    found, student = _concern(concern_id)
    service = _service(found)
    provider_org = db.session.get(ProviderOrg, service.provider_id)
    form = HandoffForm()
    if request.method == "GET":
        form.reason_text.data = found.summary
    if request.method == "GET" or not form.validate_on_submit():
        return _render(
            "wizard/handoff.html",
            4,
            form_status(),
            student=student,
            service=service,
            provider=provider_org,
            form=form,
            handoff_steps=HANDOFF_STEPS,
        )
    try:
        referral = referral_svc.create_referral(
            student_id=student.id,
            concern_id=found.id,
            provider_id=service.provider_id,
            service_id=service.id,
            reason_text=form.reason_text.data,
            caregiver_present=form.caregiver_present.data,
        )
    except InvalidInput as exc:
        attach(form, exc)
        return _render(
            "wizard/handoff.html",
            4,
            422,
            student=student,
            service=service,
            provider=provider_org,
            form=form,
            handoff_steps=HANDOFF_STEPS,
        )
    return redirect(url_for("wizard.plan", referral_id=referral.id))


@bp.get("/referral/<uuid:referral_id>/plan")
@login_required("referral.manage")
def plan(referral_id: uuid.UUID):
    """The last step: the referral is sent; book the intake (phone route) and print the plan."""
    from baton.platform.views.referrals import _forms

    referral = referral_svc.access_referral(referral_id)
    forms = _forms(referral)
    provider_org = db.session.get(ProviderOrg, referral.provider_id)
    student = student_svc.access_student(referral.student_id, audit=False)
    return _render(
        "wizard/plan.html",
        5,
        r=referral,
        provider=provider_org,
        student=student,
        schedule=forms.get("schedule"),
    )
