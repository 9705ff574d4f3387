"""The provider directory: services searchable by language, modality, insurance, wait and
distance from a school; a provider admin keeps its services' sites."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, School, Service
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.platform.services.locations import miles_between
from baton.platform.services.provisioning import check_site
from baton.tenants.scoping import access

SORTS = ("wait", "distance")
# Families do not travel for these, so a distance limit never hides them.
NO_TRAVEL = frozenset({"telehealth", "on-campus"})
MAX_MILES = 500


def search_services(
    *,
    language=None,
    modality=None,
    insurance=None,
    service_type=None,
    max_wait_days=None,
    near_school_id=None,
    within_miles=None,
    sort="wait",
) -> list[dict]:
    """Active services of active providers matching every given filter, shortest wait first
    (or nearest first with ``sort="distance"``).

    With ``near_school_id`` (one of the caller's district's schools) each result carries
    ``distance_miles`` from it; None when the school or the service has no location (e.g.
    telehealth). ``within_miles`` then drops services known to be farther, unless the family
    need not travel (telehealth or on-campus; or the ``modality`` asked for is one of those).
    Raises InvalidInput (per field) for an unknown school, a bad limit or sort."""
    require_permission("directory.read")
    origin = _origin(near_school_id, within_miles, sort)
    stmt = (
        select(Service, ProviderOrg.name)
        .join(ProviderOrg, ProviderOrg.id == Service.provider_id)
        .where(Service.active.is_(True), ProviderOrg.active.is_(True))
        .order_by(Service.current_wait_days, Service.name)
    )
    if service_type:
        stmt = stmt.where(Service.service_type == service_type)
    if max_wait_days is not None:
        stmt = stmt.where(Service.current_wait_days <= max_wait_days)
    rows = db.session.execute(stmt).all()
    # Language, modality and insurance are short JSON lists, and distance is haversine over
    # the few rows left: all filtered here, in Python, the same on SQLite and PostgreSQL.
    wanted = (("languages", language), ("modalities", modality), ("insurance_accepted", insurance))
    found = [
        _result(service, provider_name, origin)
        for service, provider_name in rows
        if all(value is None or value in getattr(service, attr) for attr, value in wanted)
    ]
    if within_miles is not None:
        found = [s for s in found if _within(s, within_miles, modality)]
    if sort == "distance":  # unknown distances last, each group still shortest wait first
        found.sort(key=lambda s: (s["distance_miles"] is None, s["distance_miles"] or 0))
    return found


def _origin(near_school_id, within_miles, sort) -> tuple[float, float] | None:
    if sort not in SORTS:
        raise InvalidInput(fields={"sort": f"one of {', '.join(SORTS)}"})
    if within_miles is not None and not (0 < within_miles <= MAX_MILES):
        raise InvalidInput(fields={"within_miles": f"a number of miles from 1 to {MAX_MILES}"})
    if near_school_id is None:
        if within_miles is not None or sort == "distance":
            raise InvalidInput(fields={"near_school_id": "choose the school to measure from"})
        return None
    school = access(db.session, School, near_school_id)
    if school is None:
        raise InvalidInput(fields={"near_school_id": "no such school in your district"})
    if school.latitude is None:
        return None
    return school.latitude, school.longitude


def _result(service: Service, provider_name: str, origin) -> dict:
    miles = None
    if origin is not None and service.latitude is not None:
        miles = round(miles_between(origin, (service.latitude, service.longitude)), 1)
    return {
        **{c.name: getattr(service, c.name) for c in Service.__table__.columns},
        "provider_name": provider_name,
        "distance_miles": miles,
    }


def _within(result: dict, limit: float, modality) -> bool:
    if result["distance_miles"] is None:  # shown as "distance unknown", not hidden
        return True
    travel_free = {modality} & NO_TRAVEL if modality else set(result["modalities"]) & NO_TRAVEL
    return bool(travel_free) or result["distance_miles"] <= limit


def own_services() -> list[Service]:
    """The acting provider's services, for its admin to keep their sites."""
    principal = require_permission("services.manage")
    return db.session.scalars(
        select(Service).where(Service.provider_id == principal.provider_id).order_by(Service.name)
    ).all()


def set_service_site(service_id: uuid.UUID, *, site_address=None, latitude=None, longitude=None):
    """Set where one of the acting provider's services is seen (address line, point); with
    none of them the service has no site (telehealth).

    Raises NotFound for another provider's service, InvalidInput (per field) for a point
    that is not real or an over-long address; nothing is stored then."""
    principal = require_permission("services.manage")
    service = db.session.get(Service, service_id) if isinstance(service_id, uuid.UUID) else None
    if service is None or service.provider_id != principal.provider_id:
        raise NotFound("No such service")
    site = check_site(site_address, latitude, longitude)
    for name, value in site.items():
        setattr(service, name, value)
    record_audit("update", "service", service.id, detail=site)
    db.session.flush()
    return service
