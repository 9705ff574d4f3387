"""Registered OAuth clients, the tokens issued to them, and the assertion ids already used.

Not tenant-owned tables: like memberships, they are read to *establish* the principal, before
one exists. Each client (and so each token) names exactly one principal, a district, a
provider organisation or a county; nothing here is student data. Tokens a user authorized
(authorization code) also name the user's membership they act as.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk

aware = DateTime(timezone=True)
ONE_PRINCIPAL = (
    "(CASE WHEN tenant_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN provider_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN county_id IS NULL THEN 0 ELSE 1 END) = 1"
)


class OAuthClient(db.Model):
    """A partner system (an EHR, a partner app) acting for one district, provider or county.

    Authenticates by ``auth_method``: ``private_key_jwt`` (an inline JWKS or a JWKS URL,
    fetched when a key id is not known yet), ``client_secret_basic``/``client_secret_post``
    (only the secret's SHA-256 is kept) or ``none`` (a public client: PKCE only).
    """

    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint(ONE_PRINCIPAL, name="one_principal"),
        Index(None, "tenant_id", "name", unique=True),
        Index(None, "provider_id", "name", unique=True),
        Index(None, "county_id", "name", unique=True),
    )

    id: Mapped[uuid_pk]
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("provider_orgs.id"))
    county_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("counties.id"))
    allowed_scopes: Mapped[str] = mapped_column(Text)  # space-separated, as OAuth spells it
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_method: Mapped[str] = mapped_column(String(40), default="private_key_jwt")
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[timestamp]
    secret_rotated_at: Mapped[datetime | None] = mapped_column(aware)
    revoked_at: Mapped[datetime | None] = mapped_column(aware)

    @property
    def principal_kind(self) -> str:
        if self.tenant_id is not None:
            return "district"
        return "provider" if self.provider_id is not None else "county"

    @property
    def public(self) -> bool:
        return self.auth_method == "none"


class OAuthToken(db.Model):
    """An issued access token (and refresh token): only their SHA-256 is kept, with whom and
    what it is for. Tokens descending from one authorization share a ``family_id``; a refresh
    token is single-use (``rotated_at``), and presenting it again revokes the family."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index(None, "client_pk", "expires_at"),)

    id: Mapped[uuid_pk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("oauth_clients.id"))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("provider_orgs.id"))
    county_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("counties.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    membership_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("memberships.id"))
    scopes: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[timestamp]
    expires_at: Mapped[datetime] = mapped_column(aware)
    revoked_at: Mapped[datetime | None] = mapped_column(aware)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(aware)
    rotated_at: Mapped[datetime | None] = mapped_column(aware)
    family_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)


class OAuthAuthorizationCode(db.Model):
    """A single-use authorization code (its SHA-256), bound to the client, the redirect URI,
    the PKCE challenge and the membership the user authorized as. Kept after use, briefly, so
    a replayed code can revoke the tokens it produced (RFC 6749 §4.1.2)."""

    __tablename__ = "oauth_authorization_codes"
    __table_args__ = (Index(None, "client_pk", "nonce"), Index(None, "expires_at"))

    id: Mapped[uuid_pk]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("oauth_clients.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    membership_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memberships.id"))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column(aware)
    expires_at: Mapped[datetime] = mapped_column(aware)
    used_at: Mapped[datetime | None] = mapped_column(aware)


class UsedAssertion(db.Model):
    """A client assertion's ``jti``, kept until the assertion expires: each is single-use."""

    __tablename__ = "oauth_used_assertions"
    __table_args__ = (Index(None, "expires_at"),)

    client_pk: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("oauth_clients.id"), primary_key=True
    )
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(aware)
