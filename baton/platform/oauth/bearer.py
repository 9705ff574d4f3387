"""From a bearer token to the principal it acts as, with the scopes it was granted."""

from __future__ import annotations

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, Tenant
from baton.platform.models.base import as_utc, utcnow
from baton.platform.oauth.models import OAuthClient, OAuthToken
from baton.platform.oauth.server import hash_token
from baton.platform.permissions import CLIENT_ROLES
from baton.platform.services.auth import partner_tenant_ids
from baton.tenants.context import Principal


def resolve_bearer(token: str, surface: str, request_id: str | None = None) -> Principal | None:
    """The principal of a live token, or None: unknown, expired or revoked token, revoked
    client, or a district or provider that no longer exists or is inactive."""
    if not token or len(token) > 200:
        return None
    row = db.session.execute(
        select(OAuthToken, OAuthClient)
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
        .where(OAuthToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    issued, client = row
    if issued.revoked_at or client.revoked_at or as_utc(issued.expires_at) <= utcnow():
        return None
    if not _principal_active(issued):
        return None
    kind = "district" if issued.tenant_id else "provider"
    partners = partner_tenant_ids(issued.provider_id) if issued.provider_id else frozenset()
    return Principal(
        kind=kind,
        surface=surface,
        role=CLIENT_ROLES[kind],
        tenant_id=issued.tenant_id,
        provider_id=issued.provider_id,
        partner_tenant_ids=partners,
        request_id=request_id,
        client_id=client.id,
        scopes=frozenset(issued.scopes.split()),
    )


def _principal_active(issued: OAuthToken) -> bool:
    if issued.tenant_id is not None:
        tenant = db.session.get(Tenant, issued.tenant_id)
        return tenant is not None and tenant.active
    provider = db.session.get(ProviderOrg, issued.provider_id)
    db.session.info.setdefault("baton.held", []).append(provider)  # reused for its name
    return provider is not None and provider.active


def resolve_api_bearer(token: str) -> Principal | None:
    """``BEARER_RESOLVERS`` entry for the JSON API."""
    from flask import g

    return resolve_bearer(token, "api", g.get("request_id"))
