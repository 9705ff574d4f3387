"""RFC 9457 problem details for the JSON API; ``type`` is stable per error code."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, jsonify

PROBLEM_JSON = "application/problem+json"


class ProblemSchema(ma.Schema):
    """The body of every API error (RFC 9457), as the OpenAPI document describes it."""

    class Meta:
        unknown = ma.INCLUDE  # RFC 9457 allows extension members

    type = ma.fields.String(required=True, metadata={"description": "Stable per error code"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        keys=ma.fields.String(), metadata={"description": "Field name -> what is wrong"}
    )


def problem_doc(blp, status: int, description: str):
    """Document an error response of ``blp``'s view as problem+json."""
    return blp.alt_response(
        status, schema=ProblemSchema, content_type=PROBLEM_JSON, description=description
    )


def problem_response(status: int, code: str, title: str, detail: str, fields=None, headers=None):
    base = current_app.config.get("PROBLEM_TYPE_BASE", "https://baton.example/problems/")
    body = {"type": f"{base}{code}", "title": title, "status": status, "detail": detail}
    if fields:
        body["errors"] = fields
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
