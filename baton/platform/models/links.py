"""One-link status updates: a signed, single-referral, expiring link for provider intake staff.

Only a hash of the token is stored; the token itself exists only in the e-mail it was minted
for. A link dies when it expires, is revoked, or is used for a terminal status.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, ForeignKeyConstraint, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, uuid_pk
from baton.platform.models.referrals import _referral_for_provider
from baton.tenants.scoping import TenantKeyed

aware = DateTime(timezone=True)


class StatusLink(TenantKeyed, db.Model):
    __tablename__ = "status_links"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "referral_id"], ["referrals.tenant_id", "referrals.id"]),
        Index(None, "tenant_id", "referral_id"),
    )

    id: Mapped[uuid_pk]
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider_orgs.id"))
    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the token
    created_at: Mapped[timestamp]
    expires_at: Mapped[datetime] = mapped_column(aware)
    last_used_at: Mapped[datetime | None] = mapped_column(aware)
    use_count: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(aware)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Set when the link was used for a terminal status: it never works again.
    spent_at: Mapped[datetime | None] = mapped_column(aware)

    provider_criteria = classmethod(_referral_for_provider)

    @classmethod
    def single_referral_criteria(cls, referral_id):
        return cls.referral_id == referral_id
