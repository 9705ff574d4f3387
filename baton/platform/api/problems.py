"""RFC 9457 problem details for the JSON API; ``type`` is stable per error code."""

from __future__ import annotations

from flask import current_app, jsonify


def problem_response(status: int, code: str, title: str, detail: str, fields=None, headers=None):
    base = current_app.config.get("PROBLEM_TYPE_BASE", "https://baton.example/problems/")
    body = {"type": f"{base}{code}", "title": title, "status": status, "detail": detail}
    if fields:
        body["errors"] = fields
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
