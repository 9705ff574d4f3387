"""Issued tokens: storing their hashes, finding them again, rotating and revoking families.

A token a user authorized carries the user's membership; one a client got for itself carries
the client's principal. Every token descending from one authorization (its code, then each
refresh) shares a ``family_id``: a refresh token presented a second time means it was copied,
so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from baton.platform.extensions import db
from baton.platform.models.base import as_utc
from baton.platform.oauth.models import OAuthClient, OAuthToken

REFRESH_LIFETIME = timedelta(days=30)
KEEP_AFTER_EXPIRY = timedelta(days=1)  # rows stay a little longer, so reuse is still detected


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_token(token: dict, client: OAuthClient, grant) -> OAuthToken:
    """Keep the hashes of a new token response; ``grant`` is the user's grant (a
    :class:`~baton.platform.oauth.grants.UserGrant`) or None for a client's own token."""
    now = datetime.now(UTC)
    _forget_expired(client, now)
    row = OAuthToken(
        token_hash=hash_token(token["access_token"]),
        client_pk=client.id,
        tenant_id=client.tenant_id,
        provider_id=client.provider_id,
        county_id=client.county_id,
        scopes=token.get("scope", ""),
        issued_at=now,
        expires_at=now + timedelta(seconds=token["expires_in"]),
    )
    if grant is not None:
        row.user_id, row.membership_id = grant.user_id, grant.membership_id
        row.family_id = grant.family_id
    if token.get("refresh_token"):
        row.refresh_token_hash = hash_token(token["refresh_token"])
        row.refresh_expires_at = now + REFRESH_LIFETIME
    db.session.add(row)
    return row


def _forget_expired(client: OAuthClient, now: datetime) -> None:
    cutoff = now - KEEP_AFTER_EXPIRY
    db.session.execute(
        db.delete(OAuthToken).where(
            OAuthToken.client_pk == client.id,
            OAuthToken.expires_at < cutoff,
            or_(OAuthToken.refresh_expires_at.is_(None), OAuthToken.refresh_expires_at < cutoff),
        )
    )


def find_token(value: str, hint: str | None = None) -> OAuthToken | None:
    """The row an access or refresh token string belongs to (``hint`` tries one first)."""
    if not value or len(value) > 200:
        return None
    digest = hash_token(value)
    columns = [OAuthToken.token_hash, OAuthToken.refresh_token_hash]
    if hint == "refresh_token":
        columns.reverse()
    for column in columns:
        row = db.session.scalars(select(OAuthToken).where(column == digest)).one_or_none()
        if row is not None:
            return row
    return None


def refresh_usable(row: OAuthToken, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    return (
        row.refresh_token_hash is not None
        and row.revoked_at is None
        and row.rotated_at is None
        and as_utc(row.refresh_expires_at) > now
    )


def rotate(row: OAuthToken) -> None:
    """Mark a refresh token used: presenting it again is reuse."""
    now = datetime.now(UTC)
    row.rotated_at = now
    # The access token it came with is superseded too.
    row.expires_at = min(as_utc(row.expires_at), now)


def revoke_family(family_id: uuid.UUID | None, *, commit: bool = False) -> int:
    """Revoke every live token of one authorization; committed at once when asked (a
    detected reuse must stick even though the request that found it is refused)."""
    if family_id is None:
        return 0
    result = db.session.execute(
        update(OAuthToken)
        .where(and_(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None)))
        .values(revoked_at=datetime.now(UTC))
    )
    if commit:
        db.session.commit()
    return result.rowcount


def revoke(row: OAuthToken) -> None:
    """RFC 7009: revoking a refresh token (or its access token) ends what it can do; a
    user's authorization goes entirely, as a refresh token revocation should."""
    if row.family_id is not None:
        revoke_family(row.family_id)
    else:
        row.revoked_at = row.revoked_at or datetime.now(UTC)
