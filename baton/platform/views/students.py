"""Find, view and record students and their caregivers."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, redirect, render_template, request, url_for

from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput
from baton.platform.forms import CaregiverForm, StudentForm, choices
from baton.platform.permissions import can
from baton.platform.services import students as svc
from baton.platform.services.referrals import ReferralFilters, list_referrals

bp = Blueprint("students", __name__, url_prefix="/students")


@bp.get("")
@login_required("student.read")
def index():
    school_id = _uuid_or_none(request.args.get("school"))
    page = request.args.get("page", "1")
    result = svc.list_students(
        query=request.args.get("q", "")[:100],
        school_id=school_id,
        page=int(page) if page.isdigit() else 1,
    )
    return render_template(
        "students/index.html", result=result, schools=svc.list_schools(), school_id=school_id
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required("student.write")
def new():
    form = StudentForm()
    form.school_id.choices = choices((str(s.id), s.name) for s in svc.list_schools())
    if not form.validate_on_submit():
        return render_template("students/new.html", form=form), _form_status(form)
    try:
        student = svc.create_student(
            **{k: v for k, v in form.data.items() if k != "csrf_token"}
            | {"school_id": uuid.UUID(form.school_id.data)}
        )
    except InvalidInput as exc:
        _attach(form, exc)
        return render_template("students/new.html", form=form), 422
    return redirect(url_for("students.show", student_id=student.id))


@bp.get("/<uuid:student_id>")
@login_required("student.read")
def show(student_id: uuid.UUID):
    student = svc.access_student(student_id)
    referrals = []
    if can(g.principal, "referral.manage"):
        referrals = list_referrals(ReferralFilters(student_id=student.id), limit=20)
    return render_template("students/show.html", student=student, referrals=referrals)


@bp.route("/<uuid:student_id>/caregivers/new", methods=["GET", "POST"])
@login_required("student.write")
def new_caregiver(student_id: uuid.UUID):
    student = svc.access_student(student_id, audit=False)
    form = CaregiverForm()
    if not form.validate_on_submit():
        status = _form_status(form)
        return render_template("students/caregiver.html", form=form, student=student), status
    try:
        svc.add_caregiver(student.id, **{k: v for k, v in form.data.items() if k != "csrf_token"})
    except InvalidInput as exc:
        _attach(form, exc)
        return render_template("students/caregiver.html", form=form, student=student), 422
    return redirect(url_for("students.show", student_id=student.id))


def _form_status(form) -> int:
    return 422 if request.method == "POST" else 200


def _attach(form, exc: InvalidInput) -> None:
    """Put a service's field messages next to the form's fields."""
    for name, message in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(f"{name}: {message}")


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
