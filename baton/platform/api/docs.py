"""A readable page for the OpenAPI document, rendered by the app itself (no CDN)."""

from flask import Blueprint, render_template

bp = Blueprint("api_docs", __name__)


@bp.get("/api/v1/docs")
def docs():
    from baton.platform.api import api

    return render_template("api_docs.html", spec=api.spec.to_dict())
