"""The Flask application factory."""

from __future__ import annotations

import os
import uuid

from flask import Flask, current_app, g, render_template, request, session
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from baton.platform import config as cfg
from baton.platform.api import PREFIX as API_PREFIX
from baton.platform.api import init_api
from baton.platform.api.problems import problem_response
from baton.platform.errors import BatonError, InvalidInput, PreconditionFailed
from baton.platform.extensions import babel, csrf, db, migrate
from baton.tenants.context import reset_principal, set_principal


def create_app(overrides: dict | None = None) -> Flask:
    """Defaults, then DATABASE_URL/REDIS_URL/SECRET_KEY, then BATON_* env vars, then overrides."""
    instance_path = os.environ.get("BATON_INSTANCE_PATH") or os.path.join(os.getcwd(), "instance")
    app = Flask(__name__, instance_path=instance_path)
    app.config.from_mapping(cfg.defaults(instance_path))
    app.config.from_mapping(cfg.from_environment())
    app.config.from_prefixed_env("BATON")
    app.config.from_mapping(overrides or {})
    cfg.finalise(app.config, instance_path)
    if app.config.get("PASSWORD_HASHING") == "cheap":
        from baton.platform.services.auth import use_cheap_hashing

        use_cheap_hashing()

    import baton.platform.models  # noqa: F401  - one metadata for the app and Alembic

    # Order matters: the database first (everything reads it), then migrations, then CSRF.
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True)
    csrf.init_app(app)
    # Staff pages are English; family-facing pages force the family's language.
    babel.init_app(app, default_translation_directories=_translations_dir())

    _install_request_hooks(app)
    _install_error_pages(app)
    _install_template_helpers(app)
    _register_blueprints(app)
    return app


def _install_template_helpers(app: Flask) -> None:
    from baton.platform.permissions import ROLE_LABELS, can

    @app.context_processor
    def helpers():
        principal = g.get("principal")
        return {
            "can": lambda permission: can(principal, permission),
            "role_label": ROLE_LABELS.get(principal.role, "") if principal else "",
            "role_labels": ROLE_LABELS,
        }


def _migrations_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "migrations")


def _translations_dir() -> str:
    return os.path.join(os.path.dirname(__file__), "translations")


def _install_request_hooks(app: Flask) -> None:
    from baton.platform.auth import principal_from_session

    @app.before_request
    def enter_scope():
        g.request_id = uuid.uuid4().hex
        surface = _surface()
        # /fhir answers bearer tokens only (baton.fhir_gateway): a session is not looked at.
        g.principal = (
            None
            if surface == "fhir"
            else principal_from_session(session, surface=surface, request_id=g.request_id)
        )
        g.principal_token = set_principal(g.principal)
        _refuse_unstorable_input()

    @app.after_request
    def finish_unit_of_work(response):
        # One commit per request; an error response keeps nothing but what was already
        # committed on purpose (e.g. a failed-login counter, see views/auth.py).
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.teardown_request
    def leave_scope(exc):
        token = g.pop("principal_token", None)
        if token is not None:
            reset_principal(token)


def _refuse_unstorable_input() -> None:
    """PostgreSQL cannot store NUL in text: refuse it in paths, forms and query strings up
    front (an id in a path is audited when it is not found; JSON bodies are checked by the
    API's schemas)."""
    path_values = [v for v in (request.view_args or {}).values() if isinstance(v, str)]
    for values in (request.args, request.form):  # every value of a repeated field too
        if any("\x00" in value for _, value in values.items(multi=True)):
            raise InvalidInput("Input must not contain NUL characters")
    if any("\x00" in value for value in path_values):
        raise InvalidInput("Input must not contain NUL characters")


def _surface() -> str:
    if request.path == "/fhir" or request.path.startswith("/fhir/"):
        return "fhir"
    return "api" if request.path.startswith(API_PREFIX + "/") else "ui"


def _error_surface() -> str:
    """Whose error format applies: the surface's, or the token service's JSON endpoints'."""
    from baton.platform.oauth.errors import is_oauth_json

    return "oauth" if is_oauth_json() else _surface()


def _render_error(status: int, code: str, title: str, detail: str, fields: dict | None = None):
    """One renderer per surface: problem+json for the API, a page for people, and what
    a package registers in ``app.extensions["baton_error_renderers"]`` (FHIR: OperationOutcome)."""
    renderer = current_app.extensions.get("baton_error_renderers", {}).get(_error_surface())
    if renderer is not None:
        return renderer(status, code, title, detail, fields)
    if _surface() == "api":
        return problem_response(status, code, title, detail, fields)
    return render_template("error.html", title=title, detail=detail), status


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(BatonError)
    def baton_error(exc: BatonError):
        return _render_error(exc.status, exc.code, exc.title, exc.detail, exc.fields)

    @app.errorhandler(StaleDataError)
    def stale(exc: StaleDataError):
        err = PreconditionFailed()
        return _render_error(err.status, err.code, err.title, err.detail)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        detail = "The form was missing its security token or it expired. Reload and try again."
        return _render_error(400, "csrf-failed", "Form expired", detail)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code >= 500:
            # A failed statement leaves the session unusable, and the page needs it.
            db.session.rollback()
        data = getattr(exc, "data", None) or {}
        fields = data.get("messages") or data.get("errors")
        if isinstance(fields, dict) and set(fields) <= {"json", "query", "form", "headers"}:
            fields = _flatten_locations(fields)
        code = HTTP_CODES.get(exc.code, (exc.name or "error").lower().replace(" ", "-"))
        return _render_error(exc.code, code, exc.name, exc.description, fields)


def _flatten_locations(messages: dict) -> dict:
    """webargs keys messages by location: field messages are merged, and a message about a
    whole location (e.g. ``{"json": ["Invalid JSON body."]}``) is kept under its name."""
    fields = {}
    for location, part in messages.items():
        if isinstance(part, dict):
            fields.update(part)
        else:
            fields[location] = part
    return fields


HTTP_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
}


def _register_blueprints(app: Flask) -> None:
    from baton.fhir_gateway import init_app as init_fhir_gateway
    from baton.platform.oauth.server import init_oauth
    from baton.platform.views import (
        admin,
        auth,
        caseload,
        county,
        crisis,
        developers,
        fhir_codes,
        health,
        home,
        metrics,
        oauth_clients,
        provider,
        referrals,
        status_link,
        students,
        ui,
        wizard,
    )

    for module in (auth, health, home, students, referrals, admin, provider, county, metrics):
        app.register_blueprint(module.bp)
    for module in (ui, wizard, crisis, caseload, status_link):
        app.register_blueprint(module.bp)
    for module in (oauth_clients, developers, fhir_codes):  # partner apps (issue 8)
        app.register_blueprint(module.bp)
    init_api(app)
    init_oauth(app)
    init_fhir_gateway(app)
