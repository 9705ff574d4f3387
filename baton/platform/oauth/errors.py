"""Errors of the token service's JSON endpoints as RFC 6749 §5.2 error JSON, not pages:
what the app raises before Authlib answers (NUL in a field, a wrong method, an unknown path)
reaches an OAuth client in the form it reads."""

from __future__ import annotations

from flask import jsonify, request

# The endpoints (and discovery documents) whose callers are programs, not people.
JSON_PREFIXES = (
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/userinfo",
    "/oauth/jwks",
    "/.well-known/",
)


def is_oauth_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def oauth_error(status: int, code: str, title: str, detail: str, fields=None):
    """The error renderer of the ``oauth`` surface (registered with the app)."""
    if status == 401:
        error = "invalid_token" if request.path.startswith("/oauth/userinfo") else "invalid_client"
    elif status == 403:
        error = "access_denied"
    elif status >= 500:
        error = "server_error"
    else:
        error = "invalid_request"
    description = (
        detail
        if not fields
        else f"{detail}: " + "; ".join(f"{name} {message}" for name, message in fields.items())
    )
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
