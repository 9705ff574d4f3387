"""The developer page: how to register a partner app, the scopes, a worked example."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from baton.platform.oauth import catalogue
from baton.platform.oauth.discovery import server_metadata

bp = Blueprint("developers", __name__)


@bp.get("/developers")
def index():
    return render_template(
        "oauth/developers.html",
        meta=server_metadata(),
        api_scopes=catalogue.API_SCOPES.values(),
        oidc_scopes=catalogue.OIDC_SCOPES,
        limits={k: current_app.config[k] for k in ("RATE_LIMIT_PER_CLIENT", "RATE_LIMIT_PER_USER")},
    )
