"""Roles, what each may do, and where each lands after sign-in. The one place these live."""

from __future__ import annotations

from baton.tenants.context import Principal

# role -> kind of scope it lives in
ROLES: dict[str, str] = {
    "referrer": "district",
    "navigator": "district",
    "escalation_lead": "district",
    "district_admin": "district",
    "auditor": "district",
    "provider_intake": "provider",
    "commissioner": "county",
}

ROLE_LABELS = {
    "referrer": "Referrer",
    "navigator": "Navigator",
    "escalation_lead": "Escalation lead",
    "district_admin": "District admin",
    "auditor": "Auditor",
    "provider_intake": "Provider intake staff",
    "commissioner": "County commissioner",
}

_STAFF = {"student.read", "student.write", "concern.create", "referral.read"}
_LOOP = {"referral.manage", "consent.manage", "service.log"}
PERMISSIONS: dict[str, frozenset[str]] = {
    "referrer": frozenset({"student.read", "concern.create"}),
    "navigator": frozenset(_STAFF | _LOOP | {"caseload.read", "escalation.open"}),
    "escalation_lead": frozenset(_STAFF | _LOOP | {"escalation.open", "escalation.manage"}),
    "district_admin": frozenset(
        _STAFF
        | _LOOP
        | {"escalation.open", "admin.manage", "audit.read", "metrics.read", "audit.sample"}
    ),
    "auditor": frozenset({"audit.read", "metrics.read", "audit.sample"}),
    "provider_intake": frozenset({"provider.referrals", "referral.read"}),
    "commissioner": frozenset({"county.metrics"}),
}

LANDING: dict[str, str] = {
    "referrer": "students.index",
    "navigator": "home.tracker",
    "escalation_lead": "home.escalations",
    "district_admin": "admin.index",
    "auditor": "admin.audit_log",
    "provider_intake": "provider.index",
    "commissioner": "county.index",
}


def can(principal: Principal | None, permission: str) -> bool:
    """True when the principal's role grants ``permission``. System scopes hold every right."""
    if principal is None:
        return False
    if principal.kind == "system":
        return True
    return permission in PERMISSIONS.get(principal.role or "", frozenset())
