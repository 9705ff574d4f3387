"""The provider directory: services searchable by language, modality, insurance and wait."""

from __future__ import annotations

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, Service
from baton.platform.services.common import require_permission


def search_services(
    *, language=None, modality=None, insurance=None, service_type=None, max_wait_days=None
) -> list[dict]:
    """Active services of active providers matching every given filter, shortest wait first."""
    require_permission("directory.read")
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
    # Language, modality and insurance are short JSON lists: filtered here, portably.
    wanted = (("languages", language), ("modalities", modality), ("insurance_accepted", insurance))
    return [
        {
            **{c.name: getattr(service, c.name) for c in Service.__table__.columns},
            "provider_name": provider_name,
        }
        for service, provider_name in rows
        if all(value is None or value in getattr(service, attr) for attr, value in wanted)
    ]
