"""Sign in, sign out, and the landing page for each role."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from baton.platform.errors import LoginRefused
from baton.platform.extensions import db
from baton.platform.forms import LoginForm, LogoutForm
from baton.platform.permissions import LANDING
from baton.platform.services.audit import record_audit
from baton.platform.services.auth import authenticate, principal_for
from baton.tenants.context import acting_as

bp = Blueprint("auth", __name__)


@bp.get("/")
def index():
    principal = g.get("principal")
    if principal is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(LANDING[principal.role]))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("login.html", form=form), status
    try:
        user = authenticate(
            form.email.data,
            form.password.data,
            max_failures=current_app.config["LOGIN_MAX_FAILURES"],
            lockout_seconds=current_app.config["LOGIN_LOCKOUT_SECONDS"],
        )
    except LoginRefused as exc:
        db.session.commit()  # the failure count and its audit row must survive the refusal
        form.form_errors.append(exc.detail)
        return render_template("login.html", form=form), exc.status
    if not user.memberships:
        db.session.commit()
        form.form_errors.append("This account has no role yet; ask your district admin.")
        return render_template("login.html", form=form), 403
    membership = user.memberships[0]
    with acting_as(principal_for(membership, request_id=g.request_id)):
        record_audit("login", "user", user.id)
    session.clear()  # a fresh session on sign-in: no fixation
    session.permanent = True
    session["user_id"] = str(user.id)
    session["membership_id"] = str(membership.id)
    return redirect(_safe_next() or url_for(LANDING[membership.role]))


def _safe_next() -> str | None:
    target = request.args.get("next", "")
    parsed = urlparse(target)
    if target.startswith("/") and not target.startswith("//") and not parsed.netloc:
        return target
    return None


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        session.clear()
    return redirect(url_for("auth.login"))
