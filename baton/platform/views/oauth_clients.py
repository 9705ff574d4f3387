"""Partner apps for admins: list, register, rotate a secret, revoke, usage per app.

District admins manage their district's apps, provider admins their provider's. Apps are
addressed by their public ``client_id``; another organisation's app is 404, like a missing one.
"""

from __future__ import annotations

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for

from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput
from baton.platform.forms import LogoutForm
from baton.platform.oauth import apps, catalogue, usage
from baton.platform.oauth.forms import AppForm

bp = Blueprint("oauth_clients", __name__, url_prefix="/admin/apps")


@bp.get("")
@login_required("apps.manage")
def index():
    rows = apps.list_apps()
    totals = {row.id: sum(d["requests"] for d in usage.daily_usage(row.id, 7)) for row in rows}
    return render_template("oauth/apps/index.html", apps=rows, totals=totals)


@bp.route("/new", methods=["GET", "POST"])
@login_required("apps.manage")
def new():
    form = AppForm()
    form.offer_scopes(g.principal.kind)
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("oauth/apps/new.html", form=form), status
    try:
        client, secret = apps.register_own_app(form.spec())
    except InvalidInput as exc:
        _attach(form, exc)
        return render_template("oauth/apps/new.html", form=form), 422
    return _shown_once(client, secret, created=True)


@bp.get("/<client_id>")
@login_required("apps.manage")
def show(client_id: str):
    client = apps.access_app(client_id)
    return render_template(
        "oauth/apps/show.html",
        app=client,
        days=usage.daily_usage(client.id),
        describe=catalogue.describe,
        form=LogoutForm(),
    )


# POSTs carry the page's CSRF token: CSRFProtect checks every form app-wide.
@bp.post("/<client_id>/rotate-secret")
@login_required("apps.manage")
def rotate_secret(client_id: str):
    client, secret = apps.rotate_own_secret(client_id)
    return _shown_once(client, secret, created=False)


@bp.post("/<client_id>/revoke")
@login_required("apps.manage")
def revoke(client_id: str):
    apps.revoke_own_app(client_id)
    return redirect(url_for("oauth_clients.show", client_id=client_id))


def _shown_once(client, secret, *, created: bool):
    """The client id and, once only, its secret: never stored, never cached."""
    page = render_template("oauth/apps/secret.html", app=client, secret=secret, created=created)
    response = make_response(page, 201 if created else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _attach(form, exc: InvalidInput) -> None:
    """Field messages next to their fields; a specific detail (the key checks give one)
    replaces their terse field codes."""
    specific = exc.detail if exc.detail != exc.title else None
    for name, message in exc.fields.items():
        message = specific or message
        field = getattr(form, name, None)
        if field is None:
            form.form_errors.append(f"{name}: {message}")
        else:
            field.errors = [*field.errors, message]
    if not exc.fields:
        form.form_errors.append(exc.detail)
