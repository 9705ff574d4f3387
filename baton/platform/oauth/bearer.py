"""From a bearer token to the principal it acts as, with the scopes it was granted.

A client's own token (client credentials) acts as the client's principal in a client role; a
token a user authorized acts as that user's membership, exactly as the user would signed in,
narrowed by the token's scopes (``permissions.can``). The tenant always comes from the token.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import County, Membership, ProviderOrg, Tenant
from baton.platform.models.base import as_utc, utcnow
from baton.platform.oauth.models import OAuthClient, OAuthToken
from baton.platform.oauth.tokens import hash_token
from baton.platform.permissions import CLIENT_ROLES
from baton.platform.services.auth import partner_tenant_ids, principal_for
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
    granted = frozenset(issued.scopes.split())
    if issued.membership_id is not None:
        return _user_principal(issued, surface, request_id, client, granted)
    kind = _kind(issued)
    partners = partner_tenant_ids(issued.provider_id) if issued.provider_id else frozenset()
    return Principal(
        kind=kind,
        surface=surface,
        role=CLIENT_ROLES[kind],
        tenant_id=issued.tenant_id,
        provider_id=issued.provider_id,
        county_id=issued.county_id,
        partner_tenant_ids=partners,
        request_id=request_id,
        client_id=client.id,
        scopes=granted,
    )


def _user_principal(issued, surface, request_id, client, granted) -> Principal | None:
    """The authorizing user's membership, while it still exists for the token's principal."""
    membership = db.session.get(Membership, issued.membership_id)
    if membership is None or not membership.user.active:
        return None
    same = (membership.tenant_id, membership.provider_id, membership.county_id) == (
        issued.tenant_id,
        issued.provider_id,
        issued.county_id,
    )
    if not same:
        return None
    principal = principal_for(membership, surface=surface, request_id=request_id)
    return dataclasses.replace(principal, client_id=client.id, scopes=granted)


def _kind(issued: OAuthToken) -> str:
    if issued.tenant_id is not None:
        return "district"
    return "provider" if issued.provider_id is not None else "county"


def _principal_active(issued: OAuthToken) -> bool:
    model, key = {
        "district": (Tenant, issued.tenant_id),
        "provider": (ProviderOrg, issued.provider_id),
        "county": (County, issued.county_id),
    }[_kind(issued)]
    row = db.session.get(model, key)
    db.session.info.setdefault("baton.held", []).append(row)  # reused (e.g. its name)
    return row is not None and getattr(row, "active", True)


def resolve_api_bearer(token: str) -> Principal | None:
    """``BEARER_RESOLVERS`` entry for the JSON API."""
    from flask import g

    return resolve_bearer(token, "api", g.get("request_id"))
