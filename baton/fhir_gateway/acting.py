"""Acting as a provider organisation outside a request (push builds, mirrored changes)."""

from __future__ import annotations

import uuid

from baton.platform.permissions import CLIENT_ROLES
from baton.platform.services.auth import partner_tenant_ids
from baton.tenants.context import Principal, acting_as


def as_provider(provider_id: uuid.UUID, surface: str):
    """The provider's principal, as its EHR's token would carry it (no scopes to narrow:
    this is Baton itself, building or applying what that EHR may see or do)."""
    return acting_as(
        Principal(
            kind="provider",
            surface=surface,
            role=CLIENT_ROLES["provider"],
            provider_id=provider_id,
            partner_tenant_ids=partner_tenant_ids(provider_id),
        )
    )
