"""HTTP mechanics of ``/fhir``: bearer tokens and scopes, bodies (size, media type, JSON,
structure), ``If-Match``, responses, and OperationOutcome for every error (§12)."""

from __future__ import annotations

import json

from flask import current_app, g, make_response, request

from baton.fhir_gateway import fhir
from baton.platform.errors import (
    BatonError,
    Forbidden,
    InvalidInput,
    PreconditionRequired,
    Unauthenticated,
)
from baton.platform.extensions import db
from baton.platform.oauth import scopes
from baton.platform.oauth.bearer import resolve_bearer
from baton.platform.services.audit import record_audit
from baton.tenants.context import set_principal

FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = (FHIR_JSON, "application/json", "application/json+fhir")
MAX_BODY = 1024 * 1024

ISSUE_TYPE = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "business-rule",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "business-rule",
    428: "required",
}


class BadRequest(BatonError):
    status = 400
    code = "bad-request"
    title = "The request is not valid FHIR"


class TooLarge(BatonError):
    status = 413
    code = "body-too-large"
    title = "The body is larger than 1 MiB"


class UnsupportedMediaType(BatonError):
    status = 415
    code = "unsupported-media-type"
    title = "Send application/fhir+json"


class PreconditionStale(BatonError):
    status = 412
    code = "stale-version"
    title = "The resource changed since you read it (If-Match is stale)"


def fhir_base() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/fhir"


def authenticate() -> None:
    """The token's principal acts for this request (a session cookie does not count here)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    principal = resolve_bearer(token, "fhir", g.get("request_id")) if token else None
    if principal is None:
        raise Unauthenticated("Send a valid bearer token (SMART Backend Services)")
    g.principal = principal
    g.principal_token = set_principal(principal)


def require_scope(resource_type: str, permission: str) -> None:
    if not scopes.permits(g.principal.scopes or frozenset(), resource_type, permission):
        raise Forbidden(f"The token's scopes do not allow '{permission}' on {resource_type}")


def read_body(resource_type: str) -> dict:
    """The request's resource: 413 over 1 MiB (unread), 415 unless FHIR JSON, 400 unless
    it parses as a structurally valid ``resource_type``; returned normalised."""
    if (request.content_length or 0) > MAX_BODY:
        raise TooLarge()
    if request.mimetype not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {request.mimetype or 'missing'}: send {FHIR_JSON}"
        )
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise TooLarge()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("The body is nested too deeply") from exc
    try:
        return fhir.parse(resource_type, body)
    except fhir.StructureError as exc:
        raise BadRequest("; ".join(exc.problems)) from exc


def if_match_version() -> int:
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired('Send If-Match: W/"<versionId>" with the version you read')
    value = header.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()):
        raise BadRequest('If-Match must be an ETag such as W/"3"')
    return int(value)


def respond(resource: dict, status: int = 200, headers: dict | None = None):
    """A FHIR JSON response; a versioned resource carries its ETag. Each resource is checked
    as valid R4 on its way out; a searchset's hundreds of entries only when
    ``FHIR_VALIDATE_BUNDLES`` is set (the test suite sets it, and validates every body it
    receives): at ~0.4 ms a resource, checking a poll page would double its cost."""
    if resource["resourceType"] != "Bundle" or current_app.config.get("FHIR_VALIDATE_BUNDLES"):
        fhir.emit(resource)
    response = make_response(json.dumps(resource, separators=(",", ":")), status)
    response.mimetype = FHIR_JSON
    version = (resource.get("meta") or {}).get("versionId")
    if version and resource["resourceType"] != "Bundle":
        response.headers["ETag"] = f'W/"{version}"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def operation_outcome(status: int, code: str, title: str, detail: str, fields=None):
    """The error renderer of the FHIR surface (registered with the app): OperationOutcome."""
    status = 422 if status == 409 else status  # a refused move is a business rule here
    issues = [
        {
            "severity": "error",
            "code": ISSUE_TYPE.get(status, "processing" if status < 500 else "exception"),
            "details": {"text": title},
            "diagnostics": detail,
        }
    ]
    for name, message in (fields or {}).items():
        issues.append(
            {
                "severity": "error",
                "code": "invalid" if status in (400, 422) else ISSUE_TYPE.get(status, "processing"),
                "diagnostics": f"{name}: {message}",
                "expression": [name],
            }
        )
    response = respond({"resourceType": "OperationOutcome", "issue": issues}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


def audit_refused_access(object_type: str, object_id) -> None:
    """A read of something absent or not visible leaves an audit row (committed on its own:
    the error response rolls the request back). It names no tenant, so it reveals none."""
    db.session.rollback()
    record_audit(
        "read-refused", object_type, str(object_id)[:64], tenant_id=None, detail={"status": 404}
    )
    db.session.commit()


def check_invalid(errors: dict) -> None:
    if errors:
        raise InvalidInput(fields=errors)
