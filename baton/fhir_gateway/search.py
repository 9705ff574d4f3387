"""Search parameters (§11) -> scoped queries, keyset paging, searchset Bundles.

Queries start from ``scoped(...)``, so the caller's tenancy criteria always apply: a
provider's search can only ever find referrals addressed to it in its partner districts.
Unknown parameters are refused (400) rather than ignored, so a client never mistakes an
unfiltered answer for a filtered one. Paging is by (``_lastUpdated``, id), never by offset.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from sqlalchemy import and_, false, or_

from baton.fhir_gateway import codes
from baton.fhir_gateway.http import BadRequest
from baton.fhir_gateway.mapping import SR_STATUS, instant
from baton.platform import lifecycle
from baton.platform.models import Referral
from baton.platform.models.base import utcnow

COMMON = {"_count", "_cursor", "_sort", "_format", "_lastUpdated", "_id"}
TASK_PARAMS = COMMON | {
    "identifier", "owner", "requester", "status", "business-status", "patient", "focus",
    "code", "_include",
}  # fmt: skip
SR_PARAMS = COMMON | {"identifier", "patient", "status", "requester", "performer"}
INCLUDES = {"Task:focus", "Task:patient"}
MAX_COUNT = 100
DEFAULT_COUNT = 50


@dataclass
class Query:
    criteria: list = field(default_factory=list)
    count: int = DEFAULT_COUNT
    descending: bool = False
    after: tuple | None = None
    includes: set[str] = field(default_factory=set)


def parse(args, allowed: set[str], resource_type: str) -> Query:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise BadRequest(
            f"Unsupported search parameter(s) for {resource_type}: {', '.join(unknown)}"
        )
    query = Query(count=parse_count(args.get("_count")), after=decode_cursor(args.get("_cursor")))
    query.descending = _sort(args.get("_sort"))
    query.includes = set(args.getlist("_include"))
    if query.includes - INCLUDES or (query.includes and resource_type != "Task"):
        raise BadRequest(f"_include supports {', '.join(sorted(INCLUDES))}")
    if args.get("_format") not in (None, "json", "application/fhir+json", "application/json"):
        raise BadRequest("Only JSON is served (_format=json)")
    for value in args.getlist("_lastUpdated"):
        query.criteria.append(_date_criterion(Referral.last_event_at, value))
    handlers = TASK_FILTERS if resource_type == "Task" else SR_FILTERS
    for name, handler in handlers.items():
        for value in args.getlist(name):
            query.criteria.append(handler(value))
    return query


def parse_count(value) -> int:
    """``_count``: 1-100 (what every search of the endpoint accepts)."""
    if value is None:
        return DEFAULT_COUNT
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_COUNT:
        raise BadRequest(f"_count must be 1-{MAX_COUNT}")
    return int(value)


def _sort(value) -> bool:
    if value in (None, "_lastUpdated"):
        return False
    if value == "-_lastUpdated":
        return True
    raise BadRequest("_sort supports _lastUpdated and -_lastUpdated")


def _ids(value: str, prefix: str | None = None) -> list[uuid.UUID]:
    ids = []
    for part in value.split(","):
        part = part.strip()
        if prefix:
            part = part.rsplit("/", 1)[-1] if "/" in part else part
            if "/" in part:
                raise BadRequest(f"expected {prefix}/<id>")
        try:
            ids.append(uuid.UUID(part))
        except ValueError:
            ids.append(uuid.UUID(int=0))  # a well-formed id of nothing: matches no row
    return ids


def _reference(column, resource_type: str):
    def criterion(value: str):
        for part in value.split(","):
            if "/" in part and not part.strip().startswith(f"{resource_type}/"):
                raise BadRequest(f"expected a reference to {resource_type}")
        return column.in_(_ids(value, resource_type))

    return criterion


def _identifier(value: str):
    system, _, code = value.rpartition("|")
    if system in ("", codes.identifier_system("referral")) or "|" not in value:
        return Referral.id.in_(_ids(code))
    return and_(Referral.provider_ref_system == system, Referral.provider_ref == code)


def _task_status(value: str):
    wanted = set(value.split(","))
    known = set(lifecycle.TASK_STATUS.values()) - {None}
    if wanted - known:
        raise BadRequest(f"unknown Task status: {', '.join(sorted(wanted - known))}")
    statuses = [s for s, t in lifecycle.TASK_STATUS.items() if t in wanted]
    return or_(
        Referral.status.in_(statuses),
        and_(Referral.status == "bounced", Referral.status_before_bounce.in_(statuses)),
    )


def _business_status(value: str):
    wanted = {part.rpartition("|")[2] for part in value.split(",")}
    if wanted - set(codes.DEFINED["referral-business-status"]):
        raise BadRequest("unknown business-status code")
    return Referral.status.in_(wanted)


def _code(value: str):
    return Referral.id.is_not(None) if value.rpartition("|")[2] == "fulfill" else false()


def _sr_status(value: str):
    wanted = set(value.split(","))
    if wanted - {"draft", "active", "revoked", "completed", "entered-in-error"}:
        raise BadRequest("unknown ServiceRequest status")
    statuses = [s for s in lifecycle.STATUSES if SR_STATUS.get(s, "active") in wanted]
    return Referral.status.in_(statuses)


TASK_FILTERS = {
    "_id": lambda v: Referral.id.in_(_ids(v)),
    "identifier": _identifier,
    "owner": _reference(Referral.provider_id, "Organization"),
    "requester": _reference(Referral.tenant_id, "Organization"),
    "status": _task_status,
    "business-status": _business_status,
    "patient": _reference(Referral.student_id, "Patient"),
    "focus": _reference(Referral.id, "ServiceRequest"),
    "code": _code,
}
SR_FILTERS = {
    "_id": lambda v: Referral.id.in_(_ids(v)),
    "identifier": _identifier,
    "patient": _reference(Referral.student_id, "Patient"),
    "status": _sr_status,
    "requester": _reference(Referral.tenant_id, "Organization"),
    "performer": _reference(Referral.provider_id, "Organization"),
}


def _date_criterion(column, value: str):
    prefix, rest = (
        (value[:2], value[2:]) if value[:2] in ("gt", "ge", "lt", "le", "eq") else ("eq", value)
    )
    start, end = _instant_range(rest)
    return {
        "gt": column >= end,
        "ge": column >= start,
        "lt": column < start,
        "le": column < end,
        "eq": and_(column >= start, column < end),
    }[prefix]


def _instant_range(value: str) -> tuple[datetime, datetime]:
    """[start, end) of a FHIR date or dateTime search value at its precision."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"not a FHIR date or dateTime: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    step = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(microseconds=1)
    return moment, moment + step


def page_criteria(query: Query):
    """Order and keyset condition for (last_event_at, id)."""
    order = (Referral.last_event_at, Referral.id)
    if query.descending:
        order = tuple(c.desc() for c in order)
    if not query.after:
        return order, None
    at, last_id = query.after
    if query.descending:
        cond = or_(
            Referral.last_event_at < at, and_(Referral.last_event_at == at, Referral.id < last_id)
        )
    else:
        cond = or_(
            Referral.last_event_at > at, and_(Referral.last_event_at == at, Referral.id > last_id)
        )
    return order, cond


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple | None:
    if not cursor:
        return None
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise BadRequest("_cursor is not one this server returned") from exc


def bundle(base: str, path: str, args, matches: list[dict], includes: list[dict], next_cursor):
    """A searchset Bundle; ``meta.lastUpdated`` is when the search ran (the poll cursor)."""
    params = [(k, v) for k, values in args.lists() for v in values if k != "_cursor"]
    links = [{"relation": "self", "url": f"{base}{path}?{urlencode(params)}".rstrip("?")}]
    if next_cursor:
        links.append(
            {
                "relation": "next",
                "url": f"{base}{path}?{urlencode([*params, ('_cursor', next_cursor)])}",
            }
        )
    entries = [_entry(base, r, "match") for r in matches] + [
        _entry(base, r, "include") for r in includes
    ]
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": instant(utcnow())},
        "type": "searchset",
        "link": links,
        "entry": entries,
    }


def _entry(base: str, resource: dict, mode: str) -> dict:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }
