"""The versioned triage checklist and high-need criteria: edit as a new version, never in place."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.services import settings

checklist_bp = Blueprint("checklist", __name__, url_prefix="/checklist")
MAX_ROWS = 30


class PublishForm(FlaskForm):
    """CSRF only: the rows are read from the posted form (their count varies)."""


def _rows(prefix: str, with_tier: bool) -> list[dict]:
    rows = []
    for n in range(MAX_ROWS):
        key = request.form.get(f"{prefix}-{n}-key", "").strip()
        text = request.form.get(f"{prefix}-{n}-text", "").strip()[:300]
        if not key and not text:
            continue
        row = {"key": key, "text": text}
        if with_tier:
            row["routes_to"] = request.form.get(f"{prefix}-{n}-routes_to", "")
        rows.append(row)
    return rows


def _page(status=200, error=None, questions=None, criteria=None):
    current = settings.active_checklist()
    history = settings.checklist_history()
    html = render_template(
        "admin/checklist.html",
        current=current,
        history=history,
        questions=questions if questions is not None else current.questions,
        criteria=criteria if criteria is not None else current.high_need_criteria,
        form=PublishForm(),
        error=error,
        done=request.args.get("done"),
    )
    return html, status


@checklist_bp.get("")
@login_required("admin.manage")
def show():
    return _page()


@checklist_bp.post("")
@login_required("admin.manage")
def publish():
    """Publish the edited checklist as the next version; earlier concerns keep theirs."""
    form = PublishForm()
    questions, criteria = _rows("q", True), _rows("h", False)
    try:
        if not form.validate_on_submit():
            raise InvalidInput("The form expired; reload the page and try again.")
        settings.publish_checklist(questions, criteria)
    except InvalidInput as exc:
        db.session.rollback()
        message = "; ".join(exc.fields.values()) if exc.fields else exc.detail
        return _page(422, message, questions, criteria)
    return redirect(url_for("admin.checklist.show", done=1))
