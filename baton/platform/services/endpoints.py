"""Provider EHR endpoints for push: where a provider's FHIR server is and which client id
it registered for Baton. Provisioning, like the directory: run from the command line."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.models import FhirEndpoint, ProviderOrg, Service

DEFAULT_SCOPE = (
    "system/Task.crus system/ServiceRequest.crs system/Patient.crs system/Consent.crs "
    "system/Organization.crs"
)


def set_fhir_endpoint(
    provider: ProviderOrg,
    base_url: str,
    client_id: str,
    *,
    scope: str = DEFAULT_SCOPE,
    route_services: bool = False,
) -> tuple[FhirEndpoint, bool]:
    """Register (or update) the provider's EHR at ``base_url`` (HTTPS only) with the client
    id it issued Baton. ``route_services``: make it the intake route of every active
    service of the provider, so referrals sent to them are pushed there. Idempotent."""
    base_url = (base_url or "").strip().rstrip("/")
    url = urlparse(base_url)
    if url.scheme != "https" or not url.hostname or len(base_url) > 300:
        raise InvalidInput("the FHIR base URL must be https://", fields={"base_url": "invalid"})
    if not (client_id or "").strip() or len(client_id) > 200:
        raise InvalidInput(
            "the client id the EHR issued is required", fields={"client_id": "required"}
        )
    endpoint = db.session.scalars(
        select(FhirEndpoint).where(
            FhirEndpoint.provider_id == provider.id, FhirEndpoint.base_url == base_url
        )
    ).one_or_none()
    created = endpoint is None
    if created:
        endpoint = FhirEndpoint(provider_id=provider.id, base_url=base_url)
        db.session.add(endpoint)
    endpoint.client_id, endpoint.scope = client_id.strip(), " ".join(scope.split())
    if route_services:
        for service in db.session.scalars(
            select(Service).where(Service.provider_id == provider.id, Service.active.is_(True))
        ):
            service.intake_route, service.intake_contact = "fhir", base_url
    db.session.flush()
    return endpoint, created
