"""SMART on FHIR scopes: parsing, subset matching, and what a granted set permits.

Authlib compares scopes as literal strings; SMART needs more: ``system/*.rs`` covers
``system/Task.rs``, ``system/Task.rus`` covers ``system/Task.rs``, and the v1 forms
``.read`` / ``.write`` / ``.*`` mean ``.rs`` / ``.cud`` / ``.cruds``. A scope is parsed into
(context, resource type, permissions); anything that is not a SMART resource scope
(``openid``, ``launch``, a partner-app scope) is matched literally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PERMISSION_ORDER = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
CONTEXTS = ("patient", "user", "system")
_SCOPE = re.compile(r"^(patient|user|system)/([A-Z][A-Za-z]{0,63}|\*)\.([a-z*]+)$")
_V2 = re.compile(r"^c?r?u?d?s?$")


@dataclass(frozen=True)
class ResourceScope:
    """One SMART resource scope: ``context/resource.permissions``."""

    context: str
    resource: str  # a FHIR resource type, or "*"
    permissions: frozenset[str]
    v1: bool = False

    def covers(self, other: ResourceScope) -> bool:
        return (
            self.context == other.context
            and self.resource in ("*", other.resource)
            and other.permissions <= self.permissions
        )

    def as_v2(self, permissions: frozenset[str] | None = None) -> str:
        wanted = self.permissions if permissions is None else permissions
        letters = "".join(p for p in PERMISSION_ORDER if p in wanted)
        return f"{self.context}/{self.resource}.{letters}"


def parse(scope: str) -> ResourceScope | None:
    """The SMART resource scope ``scope`` spells, or None (not a resource scope, or malformed:
    v2 permission letters must be a non-empty subsequence of ``cruds``)."""
    match = _SCOPE.match(scope)
    if not match:
        return None
    context, resource, perms = match.groups()
    if perms in V1_PERMISSIONS:
        return ResourceScope(context, resource, frozenset(V1_PERMISSIONS[perms]), v1=True)
    if not perms or "*" in perms or not _V2.match(perms):
        return None
    return ResourceScope(context, resource, frozenset(perms))


def split(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def grant(requested: str | None, allowed: str) -> str | None:
    """The scopes to grant for a request: each requested scope the allowed set covers is
    granted as asked; one it covers only in part is narrowed to the covered permissions
    (SMART lets a server grant less); one it does not cover at all is dropped. No request
    means everything allowed. None when nothing can be granted (``invalid_scope``)."""
    allowed_list = split(allowed)
    if not split(requested):
        return " ".join(allowed_list) or None
    granted: list[str] = []
    for scope in split(requested):
        narrowed = _narrow(scope, allowed_list)
        if narrowed and narrowed not in granted:
            granted.append(narrowed)
    return " ".join(granted) or None


def _narrow(scope: str, allowed: list[str]) -> str | None:
    wanted = parse(scope)
    if wanted is None:
        return scope if scope in allowed else None
    covered: set[str] = set()
    for candidate in filter(None, map(parse, allowed)):
        if candidate.context == wanted.context and candidate.resource in ("*", wanted.resource):
            covered |= candidate.permissions & wanted.permissions
    if covered == wanted.permissions:
        return scope
    return wanted.as_v2(frozenset(covered)) if covered else None


def covers(granted: str | frozenset[str] | list[str], scope: str) -> bool:
    """Whether ``granted`` (a scope string or collection) includes everything ``scope`` asks."""
    items = split(granted) if isinstance(granted, str) else list(granted)
    return _narrow(scope, items) == scope


def permits(
    granted: frozenset[str] | list[str] | str,
    resource: str,
    permission: str,
    contexts: tuple[str, ...] = ("system", "user"),
) -> bool:
    """Whether the granted scopes allow ``permission`` (one of c r u d s) on ``resource``.

    Patient-context scopes need a patient in context, which backend tokens never have, so
    by default only system- and user-level scopes count.
    """
    items = split(granted) if isinstance(granted, str) else list(granted)
    return any(
        scope.context in contexts
        and scope.resource in ("*", resource)
        and permission in scope.permissions
        for scope in filter(None, map(parse, items))
    )


def permits_any(granted: frozenset[str] | list[str] | str, permissions: str) -> bool:
    """Whether some granted resource scope allows any of ``permissions`` on any resource."""
    items = split(granted) if isinstance(granted, str) else list(granted)
    return any(
        scope.permissions & set(permissions)
        for scope in filter(None, map(parse, items))
        if scope.context in ("system", "user")
    )
