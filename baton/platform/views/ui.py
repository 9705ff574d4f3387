"""Template filters every page uses: times in the district's zone, status words."""

from __future__ import annotations

from flask import Blueprint, g

from baton.platform.extensions import db
from baton.platform.models import Tenant
from baton.platform.views.forms_util import local

bp = Blueprint("ui", __name__)


def _timezone() -> str:
    if "ui_timezone" not in g:
        principal = g.get("principal")
        tenant = (
            db.session.get(Tenant, principal.tenant_id)
            if principal and principal.tenant_id
            else None
        )
        g.ui_timezone = tenant.timezone if tenant else "UTC"
    return g.ui_timezone


@bp.app_template_filter("when")
def when(moment, timezone: str | None = None) -> str:
    """A moment in the reader's district time zone (UTC for provider and county staff)."""
    return local(moment, timezone or _timezone())


@bp.app_template_filter("words")
def words(value) -> str:
    """A status or code as words: ``no-show`` -> ``no show``."""
    return (value or "").replace("-", " ").replace("_", " ")
