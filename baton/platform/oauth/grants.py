"""User-facing grants: authorization code with PKCE (S256 only) and rotating refresh tokens.

A code is single-use, lives ``CODE_LIFETIME`` seconds, and is bound to its client, its
redirect URI and its PKCE challenge. It is claimed with one conditional UPDATE, so two
concurrent exchanges cannot both succeed; a code presented again revokes the tokens it
produced. A refresh token is claimed the same way and replaced on every use; presenting a
used one revokes its whole family (see :mod:`baton.platform.oauth.tokens`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, TokenMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select, update

from baton.platform.extensions import db
from baton.platform.models import Membership, User
from baton.platform.models.base import as_utc
from baton.platform.oauth import scopes as smart
from baton.platform.oauth import tokens
from baton.platform.oauth.models import OAuthAuthorizationCode, OAuthClient, OAuthToken

CODE_LIFETIME = 60  # seconds
USER_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


@dataclass
class UserGrant:
    """What a signed-in user granted a client: who, as which membership, which scopes."""

    user: User
    membership: Membership
    scope: str
    family_id: uuid.UUID | None = None
    auth_time: datetime | None = None

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    @property
    def membership_id(self) -> uuid.UUID:
        return self.membership.id


def membership_for(client: OAuthClient, user_id: uuid.UUID | None) -> Membership | None:
    """The user's membership in the client's own district, provider or county, if any."""
    if user_id is None:
        return None
    stmt = select(Membership).join(User).where(Membership.user_id == user_id, User.active)
    if client.tenant_id is not None:
        stmt = stmt.where(Membership.tenant_id == client.tenant_id)
    elif client.provider_id is not None:
        stmt = stmt.where(Membership.provider_id == client.provider_id)
    else:
        stmt = stmt.where(Membership.county_id == client.county_id)
    return db.session.scalars(stmt.order_by(Membership.created_at)).first()


class IssuedCode:
    """Authlib's view of a claimed authorization code (OAuth and OpenID mixins)."""

    def __init__(self, row: OAuthAuthorizationCode):
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str | None:
        return self.row.redirect_uri or None

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(as_utc(self.row.auth_time).timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


class IssuedToken(TokenMixin):
    """Authlib's view of an OAuthToken row (refresh, revocation, introspection, userinfo)."""

    def __init__(self, row: OAuthToken, client: OAuthClient | None = None):
        self.row = row
        self.client = client or db.session.get(OAuthClient, row.client_pk)
        self.scope = row.scopes

    def check_client(self, client) -> bool:
        return client is not None and client.row.id == self.row.client_pk

    def get_scope(self) -> str:
        return self.row.scopes

    def get_expires_in(self) -> int:
        return int((as_utc(self.row.expires_at) - datetime.now(UTC)).total_seconds())

    def is_expired(self) -> bool:
        return as_utc(self.row.expires_at) <= datetime.now(UTC)

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.client.revoked_at is not None

    def get_user(self) -> User | None:
        return db.session.get(User, self.row.user_id) if self.row.user_id else None

    def get_client(self):
        from baton.platform.oauth.server import RegisteredClient

        return RegisteredClient(self.client)


class S256Challenge(CodeChallenge):
    """PKCE on every authorization request, ``S256`` only (``plain`` is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS

    def validate_requested_scope(self):
        """Scopes beyond the client's registration are refused, never quietly dropped."""
        allowed = self.request.client.row.allowed_scopes
        asked = smart.split(self.request.payload.scope)
        if any(not smart.covers(allowed, scope) for scope in asked):
            raise InvalidScopeError("The app is not registered for some of these scopes.")

    def save_authorization_code(self, code: str, request) -> None:
        grant: UserGrant = request.user
        now = datetime.now(UTC)
        db.session.execute(
            db.delete(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.expires_at < now - timedelta(days=1)
            )
        )
        data = request.payload.data
        db.session.add(
            OAuthAuthorizationCode(
                code_hash=tokens.hash_token(code),
                client_pk=request.client.row.id,
                user_id=grant.user_id,
                membership_id=grant.membership_id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=grant.scope,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                auth_time=grant.auth_time or now,
                expires_at=now + timedelta(seconds=CODE_LIFETIME),
            )
        )

    def query_authorization_code(self, code: str, client) -> IssuedCode | None:
        """Claim the code (one UPDATE: only one exchange can win). A code already used
        revokes what it produced, committed at once since this request is refused."""
        if not code or len(code) > 200:
            return None
        row = db.session.scalars(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_hash == tokens.hash_token(code),
                OAuthAuthorizationCode.client_pk == client.row.id,
            )
        ).one_or_none()
        if row is None or as_utc(row.expires_at) <= datetime.now(UTC):
            return None
        claimed = db.session.execute(
            update(OAuthAuthorizationCode)
            .where(OAuthAuthorizationCode.id == row.id, OAuthAuthorizationCode.used_at.is_(None))
            .values(used_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            tokens.revoke_family(row.id, commit=True)
            return None
        return IssuedCode(row)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Already claimed in ``query_authorization_code``; the row stays until it expires
        so that a replay is recognised."""

    def authenticate_user(self, authorization_code: IssuedCode) -> UserGrant | None:
        row = authorization_code.row
        return _user_grant(row.membership_id, row.scope, family_id=row.id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        row = tokens.find_token(refresh_token, "refresh_token")
        if row is None or row.refresh_token_hash != tokens.hash_token(refresh_token):
            return None
        if row.rotated_at is not None and row.revoked_at is None:
            tokens.revoke_family(row.family_id, commit=True)  # reuse: someone has a copy
            return None
        if not tokens.refresh_usable(row) or not _claim_refresh(row):
            return None
        return IssuedToken(row)

    def authenticate_user(self, refresh_token: IssuedToken) -> UserGrant | None:
        row = refresh_token.row
        return _user_grant(row.membership_id, row.scopes, family_id=row.family_id)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        tokens.rotate(refresh_token.row)


def _claim_refresh(row: OAuthToken) -> bool:
    return bool(
        db.session.execute(
            update(OAuthToken)
            .where(OAuthToken.id == row.id, OAuthToken.rotated_at.is_(None))
            .values(rotated_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _user_grant(membership_id, scope: str, *, family_id) -> UserGrant | None:
    """The grant still stands only while the user is active and holds the membership."""
    membership = db.session.get(Membership, membership_id) if membership_id else None
    if membership is None or not membership.user.active:
        return None
    return UserGrant(membership.user, membership, scope, family_id=family_id)
