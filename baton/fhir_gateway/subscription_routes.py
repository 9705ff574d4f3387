"""``/fhir/Subscription``: create, read, search, update, delete and ``$status`` (§9, §11).

Thin handlers on the gateway's blueprint: scope, parse, one service call, map. A
subscription belongs to the provider organisation that made it; anyone else gets 404.
"""

from __future__ import annotations

from flask import request

from baton.fhir_gateway import subscriptions as mapping
from baton.fhir_gateway.http import (
    BadRequest,
    audit_refused_access,
    fhir_base,
    read_body,
    require_scope,
    respond,
)
from baton.fhir_gateway.routes import bp
from baton.fhir_gateway.search import bundle, parse_count
from baton.platform.errors import NotFound
from baton.platform.services import subscriptions as svc

STATUSES = ("requested", "active", "error", "off")  # FHIR R4 SubscriptionStatus


def _access(subscription_id):
    try:
        return svc.access_subscription(subscription_id)
    except NotFound:
        audit_refused_access("subscription", subscription_id)
        raise


def _respond(row, status: int = 200, headers: dict | None = None):
    return respond(mapping.subscription(row, fhir_base()), status, headers)


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if not header:
        return None  # optional here: a subscription has one writer, its owner
    value = header.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()):
        raise BadRequest('If-Match must be an ETag such as W/"3"')
    return int(value)


@bp.post("/Subscription")
def create_subscription():
    require_scope("Subscription", "c")
    row = svc.create_subscription(mapping.parse_subscription(read_body("Subscription")))
    location = f"{fhir_base()}/Subscription/{row.id}"
    return _respond(row, 201, {"Location": location})


@bp.get("/Subscription/<subscription_id>")
def read_subscription(subscription_id):
    require_scope("Subscription", "r")
    return _respond(_access(subscription_id))


@bp.get("/Subscription")
def search_subscriptions():
    require_scope("Subscription", "s")
    unknown = set(request.args) - {"status", "_count", "_format"}
    if unknown:
        raise BadRequest(f"Unsupported search parameter(s): {', '.join(sorted(unknown))}")
    parse_count(request.args.get("_count"))
    status = request.args.get("status")
    if status and set(status.split(",")) - set(STATUSES):
        raise BadRequest(f"status is one or more of {', '.join(STATUSES)}")
    rows = svc.list_subscriptions(status)
    matches = [mapping.subscription(row, fhir_base()) for row in rows]
    return respond(bundle(fhir_base(), "/Subscription", request.args, matches, [], None))


@bp.put("/Subscription/<subscription_id>")
def update_subscription(subscription_id):
    require_scope("Subscription", "u")
    row = _access(subscription_id)
    body = read_body("Subscription")
    if body.get("id") != str(row.id):
        raise BadRequest("The body's id must be the id in the URL")
    data = mapping.parse_subscription(body)
    return _respond(svc.update_subscription(row.id, data, expected_version=_if_match()))


@bp.delete("/Subscription/<subscription_id>")
def delete_subscription(subscription_id):
    require_scope("Subscription", "d")
    svc.delete_subscription(_access(subscription_id).id)
    return respond(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "deleted", "diagnostics": "Deleted"}],
        }
    )


@bp.get("/Subscription/<subscription_id>/$status")
def subscription_status(subscription_id):
    require_scope("Subscription", "r")
    return respond(mapping.status_bundle(_access(subscription_id), fhir_base()))
