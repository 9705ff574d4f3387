"""Closing escalations as a consequence of the referral connecting (or an alternative plan)."""

from __future__ import annotations

from dataclasses import replace

from baton.platform.extensions import db
from baton.platform.models import Escalation, Referral
from baton.platform.models.base import utcnow
from baton.platform.services.audit import record_audit
from baton.tenants.context import acting_as, require_principal
from baton.tenants.scoping import scoped


def resolve_escalations(referral: Referral, resolution: str) -> int:
    """Close the referral's open escalations with ``resolution`` ("connected" or
    "alternative-plan"). A side effect of a permitted status change, so no role check."""
    actor = require_principal()
    # The mover may be a provider, who cannot see escalations: act for the district, as the
    # same person and request, so the audit trail still names them.
    as_district = replace(
        actor,
        kind="system",
        tenant_id=referral.tenant_id,
        reason="escalations close when the referral connects",
        provider_id=None,
        partner_tenant_ids=frozenset(),
    )
    with acting_as(as_district):
        return _close_open(referral, resolution)


def _close_open(referral: Referral, resolution: str) -> int:
    open_ones = db.session.scalars(
        scoped(Escalation).where(Escalation.referral_id == referral.id, Escalation.status == "open")
    ).all()
    now = utcnow()
    for escalation in open_ones:
        escalation.status = "closed"
        escalation.resolution = resolution
        escalation.closed_at = now
        escalation.closed_by = require_principal().user_id
        escalation.actions = [
            *escalation.actions,
            {
                "at": now.isoformat(),
                "action": f"closed: {resolution}",
                "by": "referral status change",
            },
        ]
        record_audit(
            "close",
            "escalation",
            escalation.id,
            tenant_id=escalation.tenant_id,
            detail={"resolution": resolution},
        )
    return len(open_ones)
