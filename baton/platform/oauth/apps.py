"""Partner apps: registering, rotating and revoking OAuth clients of one organisation.

An app is a client of exactly one district, provider or county, with its redirect URIs, grant
types, allowed scopes and one way to authenticate: ``public`` (PKCE only, no secret),
``secret`` (a high-entropy secret shown once; only its SHA-256 is kept) or ``jwks``
(``private_key_jwt`` with an inline JWKS or a JWKS URL). District and provider admins manage
their own organisation's apps (``apps.manage``); the CLI does it for any organisation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import select

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import County, ProviderOrg, Tenant
from baton.platform.models.base import utcnow
from baton.platform.oauth import catalogue
from baton.platform.oauth import clients as smart_clients
from baton.platform.oauth import scopes as smart
from baton.platform.oauth.models import OAuthClient
from baton.platform.oauth.tokens import hash_token
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.tenants.context import Principal

GRANTS = ("authorization_code", "refresh_token", "client_credentials")
CLIENT_TYPES = {"public": "none", "secret": "client_secret_basic", "jwks": "private_key_jwt"}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
MAX_REDIRECTS = 10


@dataclass
class AppSpec:
    """What a registration asks for (from the admin form or the CLI)."""

    name: str
    grant_types: list[str]
    scopes: str
    client_type: str
    redirect_uris: list[str]
    jwks: dict | None = None
    jwks_uri: str | None = None


def register_app(
    spec: AppSpec,
    *,
    tenant: Tenant | None = None,
    provider: ProviderOrg | None = None,
    county: County | None = None,
    allow_http_jwks: bool = False,
) -> tuple[OAuthClient, str | None]:
    """Register an app for exactly one organisation; returns it and its secret (shown once;
    None for public and JWKS clients).

    Raises InvalidInput, with a message per field, for a missing name or a name already
    used in the organisation, unknown or ill-fitting grants or scopes, redirect URIs that
    are not https (or http on the loopback address), or keys that do not fit the type.
    """
    owners = [o for o in (tenant, provider, county) if o is not None]
    if len(owners) != 1:
        raise InvalidInput("an app belongs to exactly one district, provider or county")
    kind = "district" if tenant else "provider" if provider else "county"
    errors = _check(spec, kind)
    name = (spec.name or "").strip()
    if name and _named(name, tenant, provider, county) is not None:
        errors["name"] = "an app with this name is already registered"
    if errors:
        raise InvalidInput(fields=errors)
    client = OAuthClient(
        client_id=smart_clients.new_client_id(),
        name=name,
        tenant_id=tenant.id if tenant else None,
        provider_id=provider.id if provider else None,
        county_id=county.id if county else None,
        allowed_scopes=" ".join(dict.fromkeys(smart.split(spec.scopes))),
        grant_types=list(dict.fromkeys(spec.grant_types)),
        redirect_uris=list(dict.fromkeys(spec.redirect_uris)),
        auth_method=CLIENT_TYPES[spec.client_type],
    )
    if spec.client_type == "jwks":
        client.jwks = smart_clients.check_jwks(spec.jwks) if spec.jwks is not None else None
        client.jwks_uri = smart_clients._check_keys_source(
            spec.jwks, spec.jwks_uri, allow_http_jwks
        )
    secret = _new_secret(client) if spec.client_type == "secret" else None
    db.session.add(client)
    db.session.flush()
    return client, secret


def _check(spec: AppSpec, kind: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (spec.name or "").strip() or len(spec.name.strip()) > 200:
        errors["name"] = "give the app a name (at most 200 characters)"
    if spec.client_type not in CLIENT_TYPES:
        errors["client_type"] = "public, secret or jwks"
    grant_error = _check_grants(spec)
    if grant_error:
        errors["grant_types"] = grant_error
    scope_error = _check_scopes(spec, kind)
    if scope_error:
        errors["scopes"] = scope_error
    redirect_error = _check_redirects(spec)
    if redirect_error:
        errors["redirect_uris"] = redirect_error
    return errors


def _check_grants(spec: AppSpec) -> str | None:
    grants = spec.grant_types or []
    if not grants or any(g not in GRANTS for g in grants):
        return "choose from: authorization_code, refresh_token, client_credentials"
    if "refresh_token" in grants and "authorization_code" not in grants:
        return "refresh tokens come with the authorization code grant"
    if spec.client_type == "public" and "client_credentials" in grants:
        return "a public app cannot use client credentials (it holds no secret)"
    return None


def _check_scopes(spec: AppSpec, kind: str) -> str | None:
    items = smart.split(spec.scopes)
    if not items:
        return "choose at least one scope"
    unknown = [s for s in items if not catalogue.known(s)]
    if unknown:
        return f"not a scope Baton knows: {', '.join(unknown)}"
    unfit = [s for s in items if not catalogue.fits(s, kind)]
    if unfit:
        return f"not available to a {kind}'s app: {', '.join(unfit)}"
    if "authorization_code" not in (spec.grant_types or []) and any(
        s in catalogue.OIDC_SCOPES for s in items
    ):
        return "sign-in scopes (openid, profile, email) need the authorization code grant"
    return None


def _check_redirects(spec: AppSpec) -> str | None:
    uris = spec.redirect_uris or []
    if "authorization_code" not in (spec.grant_types or []):
        return "only apps using the authorization code grant have redirect URIs" if uris else None
    if not uris or len(uris) > MAX_REDIRECTS:
        return f"give one to {MAX_REDIRECTS} redirect URIs"
    bad = [uri for uri in uris if not _redirect_ok(uri)]
    if bad:
        return "use https:// (or http://127.0.0.1 for a native app), no #fragment: " + ", ".join(
            bad
        )
    return None


def _redirect_ok(uri: str) -> bool:
    parsed = urlparse(uri)
    if len(uri) > 500 or parsed.fragment or not parsed.netloc:
        return False
    return parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in LOOPBACK)


def _named(name, tenant, provider, county) -> OAuthClient | None:
    column, owner = (
        (OAuthClient.tenant_id, tenant)
        if tenant
        else (OAuthClient.provider_id, provider)
        if provider
        else (OAuthClient.county_id, county)
    )
    stmt = select(OAuthClient).where(OAuthClient.name == name, column == owner.id)
    return db.session.scalars(stmt).one_or_none()


def _new_secret(client: OAuthClient) -> str:
    secret = secrets.token_urlsafe(32)
    client.client_secret_hash = hash_token(secret)
    return secret


def rotate_secret(client: OAuthClient) -> str:
    """A new secret for a secret client (the old one stops working at once), shown once."""
    if client.auth_method not in ("client_secret_basic", "client_secret_post"):
        raise InvalidInput("only apps with a client secret can rotate it")
    if client.revoked_at is not None:
        raise InvalidInput("this app is revoked")
    secret = _new_secret(client)
    client.secret_rotated_at = utcnow()
    db.session.flush()
    return secret


def revoke(client: OAuthClient) -> OAuthClient:
    """Revoke an app: its tokens stop working at once and it gets no new ones."""
    client.revoked_at = client.revoked_at or utcnow()
    db.session.flush()
    return client


# ------------------------------------------------ an admin's own organisation's apps


def _owner_filter(principal: Principal):
    if principal.kind == "district":
        return OAuthClient.tenant_id == principal.tenant_id
    if principal.kind == "provider":
        return OAuthClient.provider_id == principal.provider_id
    return OAuthClient.county_id == principal.county_id


def list_apps() -> list[OAuthClient]:
    """The caller's organisation's apps, newest first (admins: ``apps.manage``)."""
    principal = require_permission("apps.manage")
    stmt = select(OAuthClient).where(_owner_filter(principal))
    return db.session.scalars(stmt.order_by(OAuthClient.created_at.desc())).all()


def access_app(client_id: str) -> OAuthClient:
    """One of the caller's organisation's apps by its public client_id; any other is
    NotFound, exactly like a missing one."""
    principal = require_permission("apps.manage")
    if not isinstance(client_id, str) or len(client_id) > 64:
        raise NotFound("No such app")
    row = db.session.scalars(
        select(OAuthClient).where(OAuthClient.client_id == client_id, _owner_filter(principal))
    ).one_or_none()
    if row is None:
        raise NotFound("No such app")
    return row


def register_own_app(spec: AppSpec) -> tuple[OAuthClient, str | None]:
    """Register an app for the caller's own district or provider (audited)."""
    principal = require_permission("apps.manage")
    owner = {
        "district": lambda: {"tenant": db.session.get(Tenant, principal.tenant_id)},
        "provider": lambda: {"provider": db.session.get(ProviderOrg, principal.provider_id)},
    }[principal.kind]()
    client, secret = register_app(spec, **owner)
    record_audit("oauth-app-registered", "oauth_client", client.id, detail={"name": client.name})
    return client, secret


def rotate_own_secret(client_id: str) -> tuple[OAuthClient, str]:
    client = access_app(client_id)
    secret = rotate_secret(client)
    record_audit("oauth-app-secret-rotated", "oauth_client", client.id)
    return client, secret


def revoke_own_app(client_id: str) -> OAuthClient:
    client = revoke(access_app(client_id))
    record_audit("oauth-app-revoked", "oauth_client", client.id)
    return client
