"""The JSON API at /api/v1 (flask-smorest): OpenAPI generated from the code."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

PREFIX = "/api/v1"


class BatonApi(Api):
    def _register_error_handlers(self):
        """Errors are rendered by the app's one handler per surface (problem+json here)."""


api = BatonApi()


def init_api(app: Flask) -> None:
    from baton.platform.api import (
        concerns,
        consents,
        directory,
        docs,
        escalations,
        referrals,
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
    for module in (students, concerns, consents, referrals, escalations, directory):
        csrf.exempt(module.blp)  # cookie callers are checked in api.auth; bearer needs none
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.bp)
