"""District administration: staff and roles, schools, partnerships and services, time
standards and the designated lead, the versioned triage checklist, failed deliveries (e-mail
and FHIR, with refused remote changes), and the audit log. API and FHIR clients are the
partner-app pages (``views/oauth_clients.py``)."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, request, url_for

from baton.platform.admin_forms import (
    LocationForm,
    PartnershipForm,
    RemoveRoleForm,
    SchoolForm,
    SettingsForm,
    StaffForm,
)
from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.forms import choices
from baton.platform.models import Service
from baton.platform.permissions import ROLE_LABELS
from baton.platform.services import delivery_state, directory, email, outbox, settings
from baton.platform.services import district_admin as svc
from baton.platform.services.students import list_schools
from baton.platform.views.checklist import checklist_bp
from baton.platform.views.forms_util import attach, uuid_or_none

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_blueprint(checklist_bp)


def _staff_form() -> StaffForm:
    form = StaffForm(prefix="staff")
    form.role.choices = choices((r, ROLE_LABELS[r]) for r in svc.DISTRICT_ROLES)
    return form


def _settings_form(obj=None) -> SettingsForm:
    form = SettingsForm(prefix="settings", obj=obj)
    leads = [
        (str(u.id), u.name) for u, m in directory.district_members() if m.role == "escalation_lead"
    ]
    form.designated_lead_id.choices = choices([("", "First escalation lead"), *leads])
    if obj is not None and request.method == "GET":
        form.designated_lead_id.data = str(obj.designated_lead_id or "")
    return form


def _location_form(school, formdata=None) -> LocationForm:
    prefix = f"loc{school.id.hex[:8]}"
    if formdata is not None:
        return LocationForm(prefix=prefix)
    return LocationForm(
        prefix=prefix,
        formdata=None,
        data={"latitude": _text(school.latitude), "longitude": _text(school.longitude)},
    )


def _text(value) -> str:
    return "" if value is None else f"{value:g}"


def _index(status=200, **forms):
    partnerships = directory.district_partnerships()
    schools = list_schools()
    failed_location = forms.get("location")
    services = (
        db.session.scalars(
            db.select(Service)
            .where(Service.provider_id.in_([o.id for _, o in partnerships]))
            .order_by(Service.name)
        ).all()
        if partnerships
        else []
    )
    page = render_template(
        "admin/index.html",
        schools=schools,
        location_forms={
            s.id: failed_location[1]
            if failed_location and failed_location[0] == s.id
            else _location_form(s)
            for s in schools
        },
        partnerships=partnerships,
        partnership_forms={
            p.id: PartnershipForm(prefix=f"p{p.id.hex[:8]}", active=not p.active)
            for p, _ in partnerships
        },
        services=services,
        members=directory.district_members(),
        staff_form=forms.get("staff") or _staff_form(),
        remove_form=RemoveRoleForm(prefix="remove"),
        school_form=forms.get("school") or SchoolForm(prefix="school"),
        settings_form=forms.get("settings") or _settings_form(settings.tenant_settings()),
        done=request.args.get("done"),
    )
    return page, status


@bp.get("")
@login_required("admin.manage")
def index():
    return _index()


@bp.post("/staff")
@login_required("admin.manage")
def add_staff():
    form = _staff_form()
    if not form.validate_on_submit():
        return _index(422, staff=form)
    try:
        svc.add_staff(
            email=form.email.data,
            name=form.name.data,
            role=form.role.data,
            password=form.password.data or "",
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(form, exc)
        return _index(422, staff=form)
    return redirect(url_for("admin.index", done="staff") + "#staff")


@bp.post("/staff/remove")
@login_required("admin.manage")
def remove_staff():
    form = RemoveRoleForm(prefix="remove")
    membership_id = uuid_or_none(form.membership_id.data)
    if not form.validate_on_submit() or membership_id is None:
        raise InvalidInput("Choose a role to remove.")
    svc.remove_role(membership_id)
    return redirect(url_for("admin.index", done="role removed") + "#staff")


@bp.post("/schools")
@login_required("admin.manage")
def add_school():
    form = SchoolForm(prefix="school")
    if not form.validate_on_submit():
        return _index(422, school=form)
    try:
        svc.add_school(
            name=form.name.data,
            code=form.code.data,
            latitude=form.latitude.data,
            longitude=form.longitude.data,
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(form, exc)
        return _index(422, school=form)
    return redirect(url_for("admin.index", done="school") + "#schools")


@bp.post("/schools/<uuid:school_id>/location")
@login_required("admin.manage")
def set_school_location(school_id: uuid.UUID):
    school = svc.access_school(school_id)
    form = _location_form(school, formdata=request.form)
    if not form.validate_on_submit():
        return _index(422, location=(school.id, form))
    try:
        svc.set_school_location(
            school.id, latitude=form.latitude.data, longitude=form.longitude.data
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(form, exc)
        return _index(422, location=(school_id, form))
    return redirect(url_for("admin.index", done="school location") + "#schools")


@bp.post("/partnerships/<uuid:partnership_id>")
@login_required("admin.manage")
def set_partnership(partnership_id: uuid.UUID):
    form = PartnershipForm(prefix=f"p{partnership_id.hex[:8]}")
    if not form.validate_on_submit():
        raise InvalidInput("The form expired; reload the page.")
    svc.set_partnership_active(partnership_id, form.active.data)
    return redirect(url_for("admin.index", done="partnership") + "#partnerships")


@bp.post("/settings")
@login_required("admin.manage")
def update_settings():
    form = _settings_form()
    if not form.validate_on_submit():
        return _index(422, settings=form)
    changes = {k: v for k, v in form.data.items() if k not in ("csrf_token", "designated_lead_id")}
    lead = uuid_or_none(form.designated_lead_id.data)
    try:
        settings.update_settings(**changes, designated_lead_id=lead)
    except InvalidInput as exc:
        db.session.rollback()
        attach(form, exc)
        return _index(422, settings=form)
    return redirect(url_for("admin.index", done="time standards") + "#settings")


@bp.get("/deliveries")
@login_required("admin.manage")
def deliveries():
    return _deliveries_page()


def _deliveries_page(refused: str | None = None, status: int = 200):
    page = render_template(
        "admin/deliveries.html",
        failed=delivery_state.failed_deliveries(),
        form=PartnershipForm(),  # only its CSRF token: each retry is a bare POST
        done=request.args.get("done"),
        refused=refused,
    )
    return page, status


def _retry(service, row_id: uuid.UUID, what: str):
    """One retry through the service the JSON API calls; a refusal re-renders in words."""
    try:
        service(row_id)
    except InvalidInput as exc:
        db.session.rollback()
        reason = "; ".join(exc.fields.values()) or exc.detail
        return _deliveries_page(f"That {what} was not retried: {reason}.", 422)
    return redirect(url_for("admin.deliveries", done=what))


@bp.post("/deliveries/<uuid:notification_id>/retry")
@login_required("admin.manage")
def retry_delivery(notification_id: uuid.UUID):
    return _retry(email.retry_delivery, notification_id, "e-mail")


@bp.post("/deliveries/fhir/<uuid:fhir_message_id>/retry")
@login_required("admin.manage")
def retry_fhir_delivery(fhir_message_id: uuid.UUID):
    return _retry(outbox.retry_message, fhir_message_id, "FHIR delivery")


@bp.get("/audit")
@login_required("audit.read")
def audit_log():
    return render_template("admin/audit.html", rows=directory.recent_audit())
