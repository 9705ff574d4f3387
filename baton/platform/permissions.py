"""Roles, what each may do, and where each lands after sign-in. The one place these live."""

from __future__ import annotations

from baton.platform.oauth.catalogue import permissions_for
from baton.tenants.context import Principal

# role -> kind of scope it lives in
ROLES: dict[str, str] = {
    "referrer": "district",
    "navigator": "district",
    "escalation_lead": "district",
    "district_admin": "district",
    "auditor": "district",
    "provider_intake": "provider",
    "provider_admin": "provider",
    "commissioner": "county",
}

ROLE_LABELS = {
    "referrer": "Referrer",
    "navigator": "Navigator",
    "escalation_lead": "Escalation lead",
    "district_admin": "District admin",
    "auditor": "Auditor",
    "provider_intake": "Provider intake staff",
    "provider_admin": "Provider admin",
    "commissioner": "County commissioner",
}

_STAFF = {"student.read", "student.write", "concern.create", "referral.read", "directory.read"}
_LOOP = {"referral.manage", "consent.manage", "service.log"}
PERMISSIONS: dict[str, frozenset[str]] = {
    "referrer": frozenset({"student.read", "concern.create"}),
    "navigator": frozenset(_STAFF | _LOOP | {"caseload.read", "escalation.open"}),
    "escalation_lead": frozenset(_STAFF | _LOOP | {"escalation.open", "escalation.manage"}),
    "district_admin": frozenset(
        _STAFF
        | _LOOP
        | {"escalation.open", "admin.manage", "audit.read", "metrics.read", "apps.manage"}
        | {"audit.sample"}
    ),
    "auditor": frozenset({"audit.read", "metrics.read", "audit.sample"}),
    "provider_intake": frozenset({"provider.referrals", "referral.read", "directory.read"}),
    # Manages the provider's partner apps (OAuth clients) and its services' sites, and works
    # intake like its staff.
    "provider_admin": frozenset(
        {"provider.referrals", "referral.read", "directory.read", "apps.manage"}
        | {"services.manage"}
    ),
    "commissioner": frozenset({"county.metrics"}),
}
# Not a role anyone holds: the rights of a one-link principal (services/status_links.py),
# which the scoping layer binds to a single referral.
STATUS_LINK_RIGHTS = frozenset({"provider.referrals", "referral.read"})

# OAuth clients (baton.platform.oauth) act as one of these roles for the principal they are
# bound to; the scopes granted to each token narrow it further. Not roles a user can hold.
CLIENT_ROLES: dict[str, str] = {
    "district": "district_client",
    "provider": "provider_client",
    "county": "county_client",
}
CLIENT_PERMISSIONS: dict[str, frozenset[str]] = {
    "district_client": frozenset(
        {"student.read", "referral.read", "referral.manage", "directory.read"}
    ),
    "provider_client": PERMISSIONS["provider_intake"],
    "county_client": PERMISSIONS["commissioner"],
}

LANDING: dict[str, str] = {
    "referrer": "students.index",
    "navigator": "home.tracker",
    "escalation_lead": "home.escalations",
    "district_admin": "admin.index",
    "auditor": "admin.audit_log",
    "provider_intake": "provider.index",
    "provider_admin": "provider.index",
    "commissioner": "county.index",
}


def role_permissions(role: str | None) -> frozenset[str]:
    """What a user role or a client role may do."""
    role = role or ""
    return PERMISSIONS.get(role, CLIENT_PERMISSIONS.get(role, frozenset()))


def role_can(principal: Principal | None, permission: str) -> bool:
    """True when the principal's role grants ``permission``, whatever a token's scopes say.
    System scopes hold every right."""
    if principal is None:
        return False
    if principal.referral_id is not None:  # a one-link principal, whatever its role
        return permission in STATUS_LINK_RIGHTS
    return principal.kind == "system" or permission in role_permissions(principal.role)


def scopes_allow(principal: Principal, permission: str) -> bool:
    """A token (``principal.scopes`` set) uses a permission only through a granted scope that
    maps onto it. On the FHIR surface the gateway checks SMART scopes per interaction itself."""
    if principal.scopes is None or principal.surface == "fhir":
        return True
    return permission in permissions_for(principal.scopes)


def can(principal: Principal | None, permission: str) -> bool:
    """True when the role grants ``permission`` and, for a token, a granted scope does too."""
    return role_can(principal, permission) and scopes_allow(principal, permission)
