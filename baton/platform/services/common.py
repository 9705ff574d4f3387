"""Small helpers every service uses: permission checks and who is acting."""

from __future__ import annotations

import uuid

from baton.platform import lifecycle
from baton.platform.errors import Forbidden, InsufficientScope
from baton.platform.permissions import can, role_can
from baton.tenants.context import Principal, require_principal


def require_permission(*permissions: str) -> Principal:
    """The acting principal, if it holds any of ``permissions``.

    Raises InsufficientScope when the role would allow it but a token's scopes do not, and
    Forbidden when the role does not."""
    principal = require_principal()
    if not any(can(principal, p) for p in permissions):
        if any(role_can(principal, p) for p in permissions):
            raise InsufficientScope()
        raise Forbidden()
    return principal


def actor_kind(principal: Principal) -> str:
    """The state machine's actor for a principal: district, provider or system."""
    return {
        "district": lifecycle.DISTRICT,
        "provider": lifecycle.PROVIDER,
        "system": lifecycle.SYSTEM,
    }.get(principal.kind, "none")


def user_id() -> uuid.UUID | None:
    return require_principal().user_id
