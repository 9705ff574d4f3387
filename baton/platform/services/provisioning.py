"""Creating counties, districts, schools, providers, partnerships and users.

Every function is idempotent: asked for something that already exists with the same key,
it returns the existing row and ``created=False``; asked for something contradictory, it
raises InvalidInput. Callers run these inside a system scope (CLI, seed) or, for a
district's own schools and users, the district admin's scope.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

from sqlalchemy import select

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.models import (
    County,
    Membership,
    Partnership,
    ProviderOrg,
    School,
    Service,
    Tenant,
    TenantSettings,
    TriageChecklist,
    User,
)
from baton.platform.models.orgs import INSURANCE, INTAKE_ROUTES, MODALITIES, SERVICE_TYPES
from baton.platform.permissions import ROLES
from baton.platform.services.auth import hash_password
from baton.platform.services.locations import check_location
from baton.platform.services.settings import DEFAULT_HIGH_NEED, DEFAULT_QUESTIONS

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 12


def _check_slug(slug: str) -> str:
    if not SLUG.match(slug or ""):
        raise InvalidInput(
            "slug must be 2-63 lowercase letters, digits or hyphens", fields={"slug": "invalid"}
        )
    return slug


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name is required", fields={"name": "required"})
    return name


def _one(stmt):
    return db.session.scalars(stmt).one_or_none()


def county_by_slug(slug: str) -> County:
    county = _one(select(County).where(County.slug == slug))
    if county is None:
        raise InvalidInput(f"no county with slug {slug!r}", fields={"county": "unknown"})
    return county


def tenant_by_slug(slug: str) -> Tenant:
    tenant = _one(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise InvalidInput(f"no district with slug {slug!r}", fields={"tenant": "unknown"})
    return tenant


def provider_by_slug(slug: str) -> ProviderOrg:
    provider = _one(select(ProviderOrg).where(ProviderOrg.slug == slug))
    if provider is None:
        raise InvalidInput(f"no provider with slug {slug!r}", fields={"provider": "unknown"})
    return provider


def create_county(name: str, slug: str) -> tuple[County, bool]:
    existing = _one(select(County).where(County.slug == _check_slug(slug)))
    if existing:
        return existing, False
    county = County(name=_check_name(name), slug=slug)
    db.session.add(county)
    db.session.flush()
    return county, True


def create_tenant(name: str, slug: str, county_slug: str) -> tuple[Tenant, bool]:
    county = county_by_slug(county_slug)
    existing = _one(select(Tenant).where(Tenant.slug == _check_slug(slug)))
    if existing:
        if existing.county_id != county.id:
            raise InvalidInput(f"district {slug!r} already exists in another county")
        return existing, False
    tenant = Tenant(name=_check_name(name), slug=slug, county_id=county.id)
    db.session.add(tenant)
    db.session.flush()
    # Default time standards and checklist up front, so no first request races to make them.
    db.session.add(TenantSettings(tenant_id=tenant.id))
    db.session.add(
        TriageChecklist(
            tenant_id=tenant.id,
            version=1,
            questions=DEFAULT_QUESTIONS,
            high_need_criteria=DEFAULT_HIGH_NEED,
        )
    )
    db.session.flush()
    return tenant, True


def create_school(
    tenant: Tenant, name: str, code: str, *, latitude=None, longitude=None
) -> tuple[School, bool]:
    """A school; its location is optional (both coordinates or neither, see locations.py)."""
    code = (code or "").strip()
    if not code:
        raise InvalidInput("school code is required", fields={"code": "required"})
    latitude, longitude = check_location(latitude, longitude)
    existing = _one(select(School).where(School.tenant_id == tenant.id, School.code == code))
    if existing:
        return existing, False
    school = School(
        tenant_id=tenant.id,
        name=_check_name(name),
        code=code,
        latitude=latitude,
        longitude=longitude,
    )
    db.session.add(school)
    db.session.flush()
    return school, True


def create_provider(name: str, slug: str, *, phone: str | None = None) -> tuple[ProviderOrg, bool]:
    existing = _one(select(ProviderOrg).where(ProviderOrg.slug == _check_slug(slug)))
    if existing:
        return existing, False
    provider = ProviderOrg(name=_check_name(name), slug=slug, phone=phone)
    db.session.add(provider)
    db.session.flush()
    return provider, True


def _check_choices(field: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"{field}: unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}",
            fields={field: "invalid"},
        )
    return list(values)


def create_service(provider: ProviderOrg, name: str, **attrs) -> tuple[Service, bool]:
    existing = _one(select(Service).where(Service.provider_id == provider.id, Service.name == name))
    if existing:
        return existing, False
    if attrs.get("service_type") not in SERVICE_TYPES:
        raise InvalidInput("unknown service type", fields={"service_type": "invalid"})
    if attrs.get("intake_route") not in INTAKE_ROUTES:
        raise InvalidInput("unknown intake route", fields={"intake_route": "invalid"})
    _check_choices("modalities", attrs.get("modalities", []), MODALITIES)
    _check_choices("insurance_accepted", attrs.get("insurance_accepted", []), INSURANCE)
    attrs |= check_site(
        attrs.pop("site_address", None), attrs.pop("latitude", None), attrs.pop("longitude", None)
    )
    service = Service(provider_id=provider.id, name=_check_name(name), **attrs)
    db.session.add(service)
    db.session.flush()
    return service, True


def check_site(site_address, latitude, longitude) -> dict:
    """A service site's columns: an optional address line and an optional point."""
    address = (site_address or "").strip() or None
    if address is not None and len(address) > 300:
        raise InvalidInput("address too long", fields={"site_address": "at most 300 characters"})
    latitude, longitude = check_location(latitude, longitude)
    return {"site_address": address, "latitude": latitude, "longitude": longitude}


def create_partnership(
    tenant: Tenant, provider: ProviderOrg, *, start: date, data_sharing_signed: date | None = None
) -> tuple[Partnership, bool]:
    existing = _one(
        select(Partnership).where(
            Partnership.tenant_id == tenant.id, Partnership.provider_id == provider.id
        )
    )
    if existing:
        return existing, False
    partnership = Partnership(
        tenant_id=tenant.id,
        provider_id=provider.id,
        agreement_start=start,
        data_sharing_signed=data_sharing_signed,
    )
    db.session.add(partnership)
    db.session.flush()
    return partnership, True


def create_user(
    email: str,
    name: str,
    password: str,
    role: str,
    *,
    tenant: Tenant | None = None,
    provider: ProviderOrg | None = None,
    county: County | None = None,
) -> tuple[User, bool]:
    """Create a user with one role membership, or add the membership to an existing user."""
    email = (email or "").strip().lower()
    if not EMAIL.match(email):
        raise InvalidInput("a valid e-mail address is required", fields={"email": "invalid"})
    scope_id = _scope_for_role(role, tenant, provider, county)
    user = _one(select(User).where(User.email == email))
    created = user is None
    if created:
        if len(password or "") < MIN_PASSWORD:
            raise InvalidInput(
                f"password must be at least {MIN_PASSWORD} characters",
                fields={"password": "too short"},
            )
        user = User(email=email, name=_check_name(name), password_hash=hash_password(password))
        db.session.add(user)
        db.session.flush()
    if not _has_membership(user.id, role, scope_id):
        db.session.add(Membership(user_id=user.id, role=role, **scope_id))
        db.session.flush()
        created = True
    return user, created


def _scope_for_role(role, tenant, provider, county) -> dict[str, uuid.UUID]:
    if role not in ROLES:
        raise InvalidInput(
            f"unknown role {role!r}; roles: {', '.join(ROLES)}", fields={"role": "invalid"}
        )
    kind = ROLES[role]
    scope = {"district": tenant, "provider": provider, "county": county}[kind]
    others = [
        s
        for k, s in (("district", tenant), ("provider", provider), ("county", county))
        if k != kind and s is not None
    ]
    if scope is None or others:
        raise InvalidInput(f"role {role!r} needs exactly one {kind}", fields={"scope": "invalid"})
    key = {"district": "tenant_id", "provider": "provider_id", "county": "county_id"}[kind]
    return {key: scope.id}


def _has_membership(user_id: uuid.UUID, role: str, scope_id: dict) -> bool:
    ((key, value),) = scope_id.items()
    stmt = select(Membership.id).where(
        Membership.user_id == user_id,
        Membership.role == role,
        getattr(Membership, key) == value,
    )
    return db.session.scalars(stmt).first() is not None
