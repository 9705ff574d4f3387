"""The scopes a partner app can ask for: what each lets a token do, in plain words.

One table for the JSON API scopes (``referrals:read`` …), the OpenID Connect sign-in scopes
and the SMART resource scopes the FHIR gateway uses. Each API scope maps onto permissions of
:mod:`baton.platform.permissions`: a token may use a permission only when its principal's role
holds it *and* one of its granted scopes maps onto it (``permissions.can``). Scopes also say
which principals (district, provider, county) they make sense for, so registration and consent
never offer a county pipeline student data.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.platform.oauth import scopes as smart

KINDS = ("district", "provider", "county")


@dataclass(frozen=True)
class Scope:
    name: str
    description: str  # plain words, for the consent screen and the developer page
    permissions: frozenset[str]
    kinds: tuple[str, ...]


def _scope(name, description, permissions, kinds=("district", "provider")) -> Scope:
    return Scope(name, description, frozenset(permissions), kinds)


API_SCOPES: dict[str, Scope] = {
    s.name: s
    for s in (
        _scope(
            "referrals:read",
            "See referrals and their status history (no clinical notes)",
            {"referral.read"},
        ),
        _scope(
            "referrals:write",
            "Update a referral's status and log contact attempts",
            {"referral.manage", "provider.referrals"},
        ),
        _scope(
            "students:read",
            "See student records and caregiver contacts of the district",
            {"student.read"},
            ("district",),
        ),
        _scope(
            "directory:read",
            "See the provider directory: services, languages, wait times",
            {"directory.read"},
        ),
        _scope(
            "county-metrics:read",
            "See the county's aggregate metrics (small numbers suppressed, no students)",
            {"county.metrics"},
            ("county",),
        ),
    )
}

OIDC_SCOPES: dict[str, str] = {
    "openid": "Know who you are: your Baton account's identifier",
    "profile": "Know your name and your role",
    "email": "Know your e-mail address",
}

# The FHIR profile's SMART Backend Services set (fhir-profile.md §10): what ``baton
# create-client`` registers by default, what the registration form offers districts and
# providers, and what the FHIR gateway advertises.
SMART_EHR_SCOPES = (
    "system/Task.rus", "system/ServiceRequest.rs", "system/Patient.rs", "system/Consent.rs",
    "system/Organization.rs", "system/Communication.crs", "system/Subscription.cruds",
)  # fmt: skip

# SMART resource scopes on the JSON API: what a FHIR-side grant means here. Resource ->
# {SMART permission letter -> Baton permissions}. The FHIR gateway checks SMART scopes itself.
SMART_ON_API: dict[str, dict[str, frozenset[str]]] = {
    "Task": {
        "r": frozenset({"referral.read"}),
        "s": frozenset({"referral.read"}),
        "u": frozenset({"referral.manage", "provider.referrals"}),
    },
    "ServiceRequest": {"r": frozenset({"referral.read"}), "s": frozenset({"referral.read"})},
    "Patient": {"r": frozenset({"student.read"}), "s": frozenset({"student.read"})},
    "Organization": {"r": frozenset({"directory.read"}), "s": frozenset({"directory.read"})},
}


def permissions_for(granted: frozenset[str] | list[str] | str) -> frozenset[str]:
    """Every Baton permission some granted scope maps onto."""
    items = smart.split(granted) if isinstance(granted, str) else list(granted)
    found: set[str] = set()
    for name in items:
        if name in API_SCOPES:
            found |= API_SCOPES[name].permissions
        elif (parsed := smart.parse(name)) is not None and parsed.context in ("system", "user"):
            found |= _smart_permissions(parsed)
    return frozenset(found)


def _smart_permissions(parsed: smart.ResourceScope) -> set[str]:
    resources = SMART_ON_API if parsed.resource == "*" else {parsed.resource: {}}
    found: set[str] = set()
    for resource in resources:
        for letter, permissions in SMART_ON_API.get(resource, {}).items():
            if letter in parsed.permissions:
                found |= permissions
    return found


def known(name: str) -> bool:
    return name in API_SCOPES or name in OIDC_SCOPES or smart.parse(name) is not None


def offered_to(kind: str) -> list[Scope]:
    """The API scopes a client acting for a ``kind`` principal can be registered with."""
    return [s for s in API_SCOPES.values() if kind in s.kinds]


def smart_offered_to(kind: str) -> list[str]:
    """The FHIR (SMART) scopes a client acting for a ``kind`` principal can be registered
    with: the EHR set for districts and providers, none for a county (aggregates only)."""
    return list(SMART_EHR_SCOPES) if kind in ("district", "provider") else []


def fits(name: str, kind: str) -> bool:
    """Whether a scope can be granted to a client of a ``kind`` principal at all."""
    if name in API_SCOPES:
        return kind in API_SCOPES[name].kinds
    if name in OIDC_SCOPES:
        return True
    return smart.parse(name) is not None and kind in ("district", "provider")


def role_allows(name: str, role_permissions: frozenset[str]) -> bool:
    """Whether a user whose role holds ``role_permissions`` could use the scope at all: sign-in
    scopes always, an API scope when the role holds one of its permissions."""
    if name in OIDC_SCOPES:
        return True
    return bool(permissions_for([name]) & role_permissions)


def describe(name: str) -> str:
    """Plain words for any scope (SMART ones spelled out from their parts)."""
    if name in API_SCOPES:
        return API_SCOPES[name].description
    if name in OIDC_SCOPES:
        return OIDC_SCOPES[name]
    parsed = smart.parse(name)
    if parsed is None:
        return name
    verbs = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
    actions = ", ".join(v for k, v in verbs.items() if k in parsed.permissions)
    what = "all FHIR resources" if parsed.resource == "*" else f"FHIR {parsed.resource}"
    return f"{actions.capitalize()} {what} ({parsed.context} level)"
