"""The JSON API at /api/v1 (flask-smorest): OpenAPI generated from the code."""

from __future__ import annotations

from http import HTTPStatus

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from baton.platform.api.problems import PROBLEM_JSON, ProblemSchema

PREFIX = "/api/v1"


class BatonApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """Errors are rendered by the app's one handler per surface (problem+json here)."""

    def _register_responses(self):
        """The shared error responses (422, default, ...) are problem+json, as served."""
        for status in HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (problem+json)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


api = BatonApi()


def init_api(app: Flask) -> None:
    from baton.platform.api import (
        concerns,
        consents,
        crisis,
        directory,
        docs,
        escalations,
        metrics,
        notifications,
        referrals,
        schools,
        settings,
        students,
    )
    from baton.platform.extensions import csrf

    app.config.setdefault("API_TITLE", "Baton API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": "Closed-loop school mental-health referrals. Errors are "
                "application/problem+json; mutable resources carry an ETag."
            },
            "components": {
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "baton_session"},
                    "bearer": {"type": "http", "scheme": "bearer"},
                }
            },
            "security": [{"session": []}, {"bearer": []}],
        },
    )
    api.init_app(app)
    for module in (
        students,
        concerns,
        consents,
        referrals,
        escalations,
        crisis,
        settings,
        directory,
        schools,
        notifications,
    ):
        csrf.exempt(module.blp)  # cookie callers are checked in api.auth; bearer needs none
        api.register_blueprint(module.blp)
    for blp in (metrics.blp, metrics.county_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp)
    app.register_blueprint(docs.bp)
