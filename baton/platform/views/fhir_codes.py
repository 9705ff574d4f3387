"""The provider admin's FHIR code map: what its EHR's own codes (e.g. BSeR ``5.1.2``) mean in
Baton, edited as ``system|code = baton-code`` lines next to its API and FHIR clients."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from baton.platform.auth import login_required
from baton.platform.extensions import db
from baton.platform.services import code_maps

bp = Blueprint("fhir_codes", __name__, url_prefix="/admin/apps/fhir-codes")


class CodeMapForm(FlaskForm):
    mappings = TextAreaField(
        "Codes, one per line: system|code = Baton code", validators=[Length(max=100_000)]
    )


@bp.get("")
@login_required("apps.manage")
def index():
    form = CodeMapForm(mappings=code_maps.as_text(code_maps.own_code_map()))
    return _page(form, saved=request.args.get("saved") is not None)


@bp.post("")
@login_required("apps.manage")
def save():
    form = CodeMapForm()
    if not form.validate_on_submit():
        return _page(form), 422
    try:
        code_maps.set_own_code_map(form.mappings.data or "")
    except code_maps.CodeMapInvalid as exc:
        db.session.rollback()
        form.mappings.errors = [*form.mappings.errors, *exc.problems]
        return _page(form), 422
    db.session.commit()
    return redirect(url_for("fhir_codes.index", saved=1))


def _page(form: CodeMapForm, *, saved: bool = False):
    return render_template(
        "fhir_codes/index.html",
        form=form,
        saved=saved,
        statuses=code_maps.BUSINESS_STATUSES,
        reasons=code_maps.REASONS,
    )
