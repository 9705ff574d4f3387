"""Registering OAuth clients: one principal each, allowed scopes, keys. Idempotent like the
other provisioning services (``baton.platform.services.provisioning``)."""

from __future__ import annotations

import secrets
from urllib.parse import urlparse

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, Tenant
from baton.platform.models.base import utcnow
from baton.platform.oauth import scopes as smart
from baton.platform.oauth.models import OAuthClient

GRANT_TYPES = ("client_credentials",)
AUTH_METHODS = ("private_key_jwt",)
SIGNING_ALGS = ("RS384", "ES384")


def new_client_id() -> str:
    """A public client id: hex, so it never starts with "-" and reads as an option on a
    command line (``baton revoke-client ID``), nor needs escaping in a URL."""
    return secrets.token_hex(16)


def create_client(
    name: str,
    *,
    tenant: Tenant | None = None,
    provider: ProviderOrg | None = None,
    scopes: str,
    jwks: dict | None = None,
    jwks_uri: str | None = None,
    allow_http_jwks: bool = False,
) -> tuple[OAuthClient, bool]:
    """Register a client bound to exactly one of ``tenant`` and ``provider``.

    The same name for the same principal returns the existing client (``created=False``).
    Raises InvalidInput for a missing or double principal, no usable scope, or keys that are
    neither one inline JWKS of RS384/ES384 public keys with ``kid`` nor one HTTPS JWKS URL
    (plain HTTP only with ``allow_http_jwks``, for development).
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name is required", fields={"name": "required"})
    if (tenant is None) == (provider is None):
        raise InvalidInput(
            "a client acts for exactly one district (--tenant) or provider (--provider)",
            fields={"principal": "invalid"},
        )
    existing = _existing(name, tenant, provider)
    if existing is not None:
        return existing, False
    client = OAuthClient(
        client_id=new_client_id(),
        name=name[:200],
        tenant_id=tenant.id if tenant else None,
        provider_id=provider.id if provider else None,
        allowed_scopes=check_scopes(scopes),
        grant_types=list(GRANT_TYPES),
        auth_method="private_key_jwt",
        jwks=check_jwks(jwks) if jwks is not None else None,
        jwks_uri=_check_keys_source(jwks, jwks_uri, allow_http_jwks),
    )
    db.session.add(client)
    db.session.flush()
    return client, True


def _existing(name, tenant, provider) -> OAuthClient | None:
    stmt = select(OAuthClient).where(OAuthClient.name == name)
    if tenant is not None:
        stmt = stmt.where(OAuthClient.tenant_id == tenant.id)
    else:
        stmt = stmt.where(OAuthClient.provider_id == provider.id)
    return db.session.scalars(stmt).one_or_none()


def check_scopes(scopes: str) -> str:
    """Space-separated scopes, each a well-formed SMART resource scope."""
    items = smart.split(scopes)
    bad = [s for s in items if smart.parse(s) is None]
    if not items or bad:
        raise InvalidInput(
            "scopes must be SMART resource scopes such as system/Task.rus"
            + (f"; not understood: {', '.join(bad)}" if bad else ""),
            fields={"scopes": "invalid"},
        )
    return " ".join(dict.fromkeys(items))


def check_jwks(jwks: dict) -> dict:
    """A JWKS of public RS384/ES384 signing keys, each with a ``kid``."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not keys or not isinstance(keys, list):
        raise InvalidInput("the JWKS needs a non-empty 'keys' list", fields={"jwks": "invalid"})
    if not all(isinstance(k, dict) and isinstance(k.get("kid"), str) and k["kid"] for k in keys):
        raise InvalidInput("every key needs a 'kid'", fields={"jwks": "invalid"})
    try:
        key_set = KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidInput(f"the JWKS is not valid: {exc}", fields={"jwks": "invalid"}) from exc
    for key in key_set.keys:
        if key.is_private:
            raise InvalidInput("register public keys only", fields={"jwks": "private key"})
        if key.key_type not in ("RSA", "EC"):
            raise InvalidInput("keys must be RSA (RS384) or EC (ES384)", fields={"jwks": "kty"})
    return {"keys": [key.as_dict(private=False) for key in key_set.keys]}


def _check_keys_source(jwks, jwks_uri, allow_http) -> str | None:
    if (jwks is None) == (jwks_uri is None):
        raise InvalidInput(
            "give exactly one of an inline JWKS or a JWKS URL", fields={"jwks": "required"}
        )
    if jwks_uri is None:
        return None
    parsed = urlparse(jwks_uri)
    schemes = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in schemes or not parsed.netloc or len(jwks_uri) > 500:
        raise InvalidInput("the JWKS URL must be an https:// URL", fields={"jwks_uri": "invalid"})
    return jwks_uri


def revoke_client(client_id: str) -> OAuthClient:
    """Revoke a client: its tokens stop working at once and it cannot get new ones."""
    client = db.session.scalars(
        select(OAuthClient).where(OAuthClient.client_id == client_id)
    ).one_or_none()
    if client is None:
        raise InvalidInput(f"no client with id {client_id!r}", fields={"client_id": "unknown"})
    client.revoked_at = client.revoked_at or utcnow()
    db.session.flush()
    return client


def query_client(client_id: str) -> OAuthClient | None:
    """The active client with this public ``client_id`` (Authlib's ``query_client``)."""
    if not isinstance(client_id, str) or len(client_id) > 64:
        return None
    return db.session.scalars(
        select(OAuthClient).where(
            OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None)
        )
    ).one_or_none()
