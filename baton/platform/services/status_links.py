"""One-link status updates: a signed, single-referral, expiring link for provider intake staff
without an EHR, so a provider can answer from the notification e-mail without a password.

The token is signed with the app's SECRET_KEY (itsdangerous) and names the link row; the row
holds only the token's SHA-256. Opening a link acts as a provider principal bound to that one
referral (``Principal.referral_id``): the scoping layer shows it nothing else. Every use is
audited; a link dies when it expires, is revoked, or is used for a terminal status.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from baton.platform import lifecycle
from baton.platform.errors import BatonError
from baton.platform.extensions import db
from baton.platform.models import Referral, StatusLink
from baton.platform.models.base import as_utc, utcnow
from baton.platform.services.audit import record_audit
from baton.platform.services.auth import partner_tenant_ids
from baton.platform.services.common import require_permission, user_id
from baton.tenants.context import Principal, acting_as, require_principal, system_scope
from baton.tenants.scoping import scoped

LIFETIME = timedelta(days=14)
SALT = "baton.status-link.v1"
# What the one-page form offers: the provider's first answers (product.md, issue 6).
LINK_ACTIONS = (
    "received",
    "accepted",
    "declined",
    "scheduled",
    "first-appointment-attended",
    "no-show",
)


class LinkRefused(BatonError):
    """A status link that is not (or no longer) valid: said plainly, never a 500."""

    status = 403
    code = "status-link-refused"
    title = "This link cannot be used"


@dataclass
class OpenLink:
    link: StatusLink
    principal: Principal


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_status_link(referral: Referral, *, recipient_user_id: uuid.UUID | None = None) -> str:
    """Mint a link for ``referral`` (addressed to its provider) and return the token.

    Called where the notification e-mail is written, in the district's or a job's scope;
    the token is never stored, only its hash."""
    link = StatusLink(
        id=uuid.uuid4(),
        tenant_id=referral.tenant_id,
        referral_id=referral.id,
        provider_id=referral.provider_id,
        recipient_user_id=recipient_user_id,
        expires_at=utcnow() + LIFETIME,
        use_count=0,
        token_hash="",
    )
    token = _serializer().dumps([str(link.tenant_id), str(link.id), uuid.uuid4().hex])
    link.token_hash = _digest(token)
    db.session.add(link)
    db.session.flush()
    return token


def open_status_link(token: str | None) -> OpenLink:
    """Check a token and return its link with the one-referral principal to act as.

    Raises LinkRefused, with the reason in words, for a tampered, unknown, expired, revoked
    or spent link, or one whose referral is closed or whose partnership ended."""
    tenant_id, link_id = _verify(token)
    with system_scope("status link: resolve a token", surface="ui"):
        link = db.session.get(StatusLink, (tenant_id, link_id))
        if link is None or not hmac.compare_digest(link.token_hash, _digest(token)):
            raise LinkRefused("This link is not valid. Sign in to the provider portal instead.")
        status = db.session.scalar(
            select(Referral.status).where(
                Referral.tenant_id == tenant_id, Referral.id == link.referral_id
            )
        )
    principal = Principal(
        kind="provider",
        surface="ui",
        role="status_link",
        provider_id=link.provider_id,
        partner_tenant_ids=frozenset({tenant_id}),
        referral_id=link.referral_id,
        user_id=link.recipient_user_id,
    )
    try:
        _check_alive(link, status)
        if tenant_id not in partner_tenant_ids(link.provider_id):
            raise LinkRefused("Your organisation no longer partners with this district.")
    except LinkRefused as exc:  # a real link that no longer works: its use is audited too
        with acting_as(principal):
            record_audit(
                "status-link-refused",
                "referral",
                link.referral_id,
                tenant_id=tenant_id,
                detail={"status_link_id": str(link.id), "reason": exc.detail},
            )
        raise
    return OpenLink(link, principal)


def _verify(token: str | None) -> tuple[uuid.UUID, uuid.UUID]:
    try:
        tenant, link, _nonce = _serializer().loads(token or "", max_age=LIFETIME.total_seconds())
        return uuid.UUID(tenant), uuid.UUID(link)
    except SignatureExpired as exc:
        raise LinkRefused("This link has expired. Sign in to the provider portal instead.") from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise LinkRefused(
            "This link is not valid. Sign in to the provider portal instead."
        ) from exc


def _check_alive(link: StatusLink, referral_status: str | None) -> None:
    if link.revoked_at is not None:
        raise LinkRefused("This link was withdrawn by the school. Sign in to the provider portal.")
    if link.spent_at is not None:
        raise LinkRefused("This link was already used to close the referral; it works only once.")
    if as_utc(link.expires_at) <= utcnow():
        raise LinkRefused("This link has expired. Sign in to the provider portal instead.")
    if referral_status is None or referral_status in lifecycle.TERMINAL:
        raise LinkRefused("This referral is closed; there is nothing left to update here.")


def record_link_use(opened: OpenLink, action: str, detail: dict | None = None) -> None:
    """Audit one use of a link (as its principal) and stamp the link; a terminal status
    spends it. Runs inside ``acting_as(opened.principal)``."""
    link = opened.link
    record_audit(
        f"status-link-{action}",
        "referral",
        link.referral_id,
        tenant_id=link.tenant_id,
        detail={"status_link_id": str(link.id), **(detail or {})},
    )
    with system_scope("status link: record its use", surface="ui"):
        row = db.session.get(StatusLink, (link.tenant_id, link.id))
        row.last_used_at = utcnow()
        row.use_count = (row.use_count or 0) + 1
        if detail and detail.get("to") in lifecycle.TERMINAL:
            row.spent_at = utcnow()
        db.session.flush()


def revoke_status_links(referral_id) -> int:
    """Withdraw every live link to a referral (district staff or the provider's portal staff)."""
    from baton.platform.services.referrals import access_referral

    require_permission("referral.manage", "provider.referrals")
    if require_principal().referral_id is not None:
        raise LinkRefused("A status link cannot withdraw links.")
    referral = access_referral(referral_id, audit=False)
    rows = live_links(referral.id)
    for row in rows:
        row.revoked_at = utcnow()
        row.revoked_by = user_id()
    record_audit(
        "revoke",
        "status-link",
        referral.id,
        tenant_id=referral.tenant_id,
        detail={"count": len(rows)},
    )
    db.session.flush()
    return len(rows)


def live_links(referral_id) -> list[StatusLink]:
    """Links to this referral that still work (not revoked, spent or expired)."""
    return db.session.scalars(
        scoped(StatusLink).where(
            StatusLink.referral_id == referral_id,
            StatusLink.revoked_at.is_(None),
            StatusLink.spent_at.is_(None),
            StatusLink.expires_at > utcnow(),
        )
    ).all()
