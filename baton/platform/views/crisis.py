"""The crisis pathway (tier C): the open records, and one record's timestamped steps, roles,
caregiver notification and return-to-school plan. Baton documents and times; people decide."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, request, url_for

from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.referral_forms import labelled
from baton.platform.services import crisis as svc
from baton.platform.services.students import access_student
from baton.platform.views.forms_util import attach
from baton.platform.wizard_forms import CrisisCloseForm, CrisisStepForm

bp = Blueprint("crisis", __name__, url_prefix="/crisis")


@bp.get("")
@login_required("escalation.open")
def index():
    rows = svc.list_open_crises()
    return render_template("crisis/index.html", rows=rows, names=svc.student_names(rows))


def _forms():
    step, close = CrisisStepForm(prefix="step"), CrisisCloseForm(prefix="close")
    step.action.choices = labelled(svc.ACTIONS)
    step.role.choices = labelled(svc.ROLES)
    return step, close


def _page(crisis_record_id, step, close, status=200, **extra):
    record = svc.access_crisis(crisis_record_id)
    student = access_student(record.student_id)
    html = render_template(
        "crisis/show.html", c=record, student=student, step=step, close=close, **extra
    )
    return html, status


@bp.get("/<uuid:crisis_record_id>")
@login_required("escalation.open")
def show(crisis_record_id: uuid.UUID):
    step, close = _forms()
    return _page(crisis_record_id, step, close, new=request.args.get("new"))


@bp.post("/<uuid:crisis_record_id>/steps")
@login_required("escalation.open")
def add_step(crisis_record_id: uuid.UUID):
    svc.access_crisis(crisis_record_id)
    step, close = _forms()
    if not step.validate_on_submit():
        return _page(crisis_record_id, step, close, 422)
    try:
        svc.add_crisis_step(
            crisis_record_id, action=step.action.data, role=step.role.data, note=step.note.data
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(step, exc)
        return _page(crisis_record_id, step, close, 422)
    return redirect(url_for("crisis.show", crisis_record_id=crisis_record_id) + "#steps")


@bp.post("/<uuid:crisis_record_id>/close")
@login_required("escalation.open")
def close(crisis_record_id: uuid.UUID):
    svc.access_crisis(crisis_record_id)
    step, close_form = _forms()
    if not close_form.validate_on_submit():
        return _page(crisis_record_id, step, close_form, 422)
    try:
        svc.close_crisis(
            crisis_record_id, return_to_school_plan=close_form.return_to_school_plan.data
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(close_form, exc)
        return _page(crisis_record_id, step, close_form, 422)
    return redirect(url_for("crisis.show", crisis_record_id=crisis_record_id))
