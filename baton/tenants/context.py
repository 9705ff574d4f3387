"""The acting principal: who acts, for which tenant / provider org / county, through which surface.

Set once per request (from the session or a token) and once per job (from its arguments);
read by the scoping choke point. Held in a contextvar so threads and jobs never share it.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SURFACES = ("ui", "api", "fhir", "job", "cli")


class TenantContextMissing(RuntimeError):
    """A tenant-owned table was queried with no acting principal set."""


@dataclass(frozen=True)
class Principal:
    """One actor acting inside exactly one tenant, provider org, county, or a named system scope.

    kind: "district" (a district user or client), "provider", "county" or "system".
    For a provider, ``partner_tenant_ids`` are the districts with an active partnership:
    the outer bound of what it may ever see (referrals addressed to it narrow that further).
    """

    kind: str
    surface: str
    user_id: uuid.UUID | None = None
    role: str | None = None
    tenant_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    county_id: uuid.UUID | None = None
    partner_tenant_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    reason: str | None = None  # for system scopes: why cross-tenant access is needed
    request_id: str | None = None  # correlates audit rows with one request or job
    # Set for OAuth tokens (baton.platform.oauth): the registered client acting, and the
    # scopes it was granted. None for sessions and jobs, which scopes do not narrow.
    client_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None
    # A one-link principal (a provider's signed status link): this one referral only.
    referral_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.surface not in SURFACES:
            raise ValueError(f"unknown surface {self.surface!r}")
        required = {
            "district": self.tenant_id,
            "provider": self.provider_id,
            "county": self.county_id,
            "system": self.reason,
        }
        if self.kind not in required:
            raise ValueError(f"unknown principal kind {self.kind!r}")
        if required[self.kind] is None:
            raise ValueError(f"a {self.kind} principal needs its scope")
        if self.referral_id is not None and self.kind != "provider":
            raise ValueError("only a provider principal can be bound to one referral")

    @property
    def bound_system(self) -> bool:
        """A job acting for one district: system rights, that district's rows only."""
        return self.kind == "system" and self.tenant_id is not None

    @property
    def unbound_system(self) -> bool:
        return self.kind == "system" and self.tenant_id is None

    @property
    def visible_tenant_ids(self) -> frozenset[uuid.UUID]:
        """Tenants whose rows this principal may touch at all (the RLS bound)."""
        if self.kind == "district" or self.bound_system:
            return frozenset({self.tenant_id})
        if self.kind == "provider":
            return self.partner_tenant_ids
        return frozenset()


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "baton_principal", default=None
)
_listeners: list = []
_leave_listeners: list = []


def current_principal() -> Principal | None:
    return _current.get()


def require_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise TenantContextMissing(
            "no acting principal: set one with acting_as() or a system scope"
        )
    return principal


def on_change(callback) -> None:
    """Register a callback run whenever the principal changes (e.g. to re-set the RLS GUC)."""
    _listeners.append(callback)


def on_leave_scope(callback) -> None:
    """Register a callback run as a scope block ends normally, while its principal still acts.

    Used to flush the session, so rows written inside a scope are checked against it.
    """
    _leave_listeners.append(callback)


def set_principal(principal: Principal | None) -> contextvars.Token:
    token = _current.set(principal)
    for callback in _listeners:
        callback(principal)
    return token


def reset_principal(token: contextvars.Token) -> None:
    _current.reset(token)
    for callback in _listeners:
        callback(_current.get())


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    token = set_principal(principal)
    try:
        yield principal
        for callback in _leave_listeners:
            callback(principal)
    finally:
        reset_principal(token)


@contextmanager
def system_scope(reason: str, surface: str = "job") -> Iterator[Principal]:
    """Cross-tenant maintenance (sweeps, rollups, provisioning): explicit, named and greppable."""
    with acting_as(Principal(kind="system", surface=surface, reason=reason)) as principal:
        yield principal


@contextmanager
def job_scope(
    tenant_id: uuid.UUID, reason: str, request_id: str | None = None
) -> Iterator[Principal]:
    """A job re-entering one district: it acts as the system, but sees only that district."""
    principal = Principal(
        kind="system", surface="job", reason=reason, tenant_id=tenant_id, request_id=request_id
    )
    with acting_as(principal):
        yield principal
