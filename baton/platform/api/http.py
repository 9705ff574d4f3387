"""HTTP mechanics shared by the API views: ETags, If-Match, cursors, Idempotency-Key."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import uuid
from datetime import datetime

from flask import after_this_request, g, jsonify, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from baton.platform.errors import (
    BatonError,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
)
from baton.platform.extensions import db
from baton.platform.models import IdempotencyRecord
from baton.tenants.context import require_principal


def etag(version: int) -> str:
    return f'W/"{version}"'


def required_version() -> int:
    """The version named by If-Match (428 when absent, 412 via the service when stale)."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    value = header.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()):  # int() refuses some Unicode digits
        raise InvalidInput(fields={"If-Match": 'an ETag such as W/"3"'})
    return int(value)


def with_etag(body, version: int, status: int = 200, location: str | None = None):
    response = make_response(jsonify(body), status)
    response.headers["ETag"] = etag(version)
    if location:
        response.headers["Location"] = location
    return response


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidInput(fields={"cursor": "not a cursor this API returned"}) from exc


class IdempotencyKeyReused(BatonError):
    status = 422
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was already used for a different request"


def _owner() -> str:
    p = require_principal()
    scope = p.tenant_id or p.provider_id or p.county_id or p.reason
    return f"{p.kind}:{scope}:{p.user_id}"


def idempotent(view):
    """Make a POST safe to retry: with an ``Idempotency-Key`` header, the first response is
    stored in the same transaction as the work and returned again for the same key."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200 or not key.isprintable():
            raise InvalidInput(fields={"Idempotency-Key": "at most 200 printable characters"})
        digest = hashlib.sha256(
            request.method.encode() + request.path.encode() + request.get_data()
        ).hexdigest()
        stored = _stored(key)
        if stored is not None:
            return _replay(stored, digest)
        record = IdempotencyRecord(
            owner=_owner(), key=key, request_hash=digest, status_code=0, body={}
        )
        try:
            with db.session.begin_nested():
                db.session.add(record)  # the unique key is taken before the work begins
        except IntegrityError:
            return _replay(_stored(key), digest)  # a concurrent twin finished first
        result = view(*args, **kwargs)

        @after_this_request  # runs before the commit, on the response as the schema dumped it
        def remember(response):
            record.status_code = response.status_code
            record.body = response.get_json(silent=True) or {}
            record.location = response.headers.get("Location")
            return response

        g.idempotency_record = record
        return result

    return wrapper


def _stored(key: str) -> IdempotencyRecord | None:
    return db.session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.owner == _owner(), IdempotencyRecord.key == key
        )
    ).first()


def _replay(stored: IdempotencyRecord, digest: str):
    if stored.request_hash != digest:
        raise IdempotencyKeyReused()
    response = make_response(jsonify(stored.body), stored.status_code)
    response.headers["Idempotent-Replayed"] = "true"
    if stored.location:
        response.headers["Location"] = stored.location
    return response


ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "Weak validator"}}


def representation_etag(schema, obj) -> str:
    """A weak ETag for resources without a version column: a digest of what we return."""
    body = json.dumps(schema.dump(obj), sort_keys=True, default=str).encode()
    return f'W/"{hashlib.sha256(body).hexdigest()[:20]}"'


def check_if_match(schema, current) -> None:
    """If the caller sent If-Match, it must name the current representation (else 412)."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return
    sent = {tag.strip() for tag in header.split(",")}
    if representation_etag(schema, current) not in sent:
        raise PreconditionFailed()


def with_representation_etag(schema, obj, status: int = 200):
    """(obj, status, headers) for a flask-smorest view, carrying the representation ETag."""
    return obj, status, {"ETag": representation_etag(schema, obj)}
