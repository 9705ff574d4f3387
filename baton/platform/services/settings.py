"""Per-district settings and the versioned triage checklist."""

from __future__ import annotations

import re

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.models import TenantSettings, TriageChecklist
from baton.platform.services.common import require_permission, user_id
from baton.tenants.context import require_principal
from baton.tenants.scoping import scoped

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DEFAULT_QUESTIONS = [
    {
        "key": "immediate_risk",
        "routes_to": "C",
        "text": "Is there an immediate risk of harm to self or others right now?",
    },
    {
        "key": "plan_or_means",
        "routes_to": "C",
        "text": "Has the student described a plan or access to means to harm themselves?",
    },
    {
        "key": "daily_functioning",
        "routes_to": "B",
        "text": "Have symptoms interfered with school or home life for two weeks or more?",
    },
    {
        "key": "school_support_tried",
        "routes_to": "B",
        "text": "Has school-based support been tried without enough improvement?",
    },
    {
        "key": "family_requests_outside_care",
        "routes_to": "B",
        "text": "Has the family asked for community counseling or an assessment?",
    },
    {
        "key": "brief_support_may_help",
        "routes_to": "A",
        "text": "Would brief school-based support (check-ins, groups) likely help?",
    },
]
DEFAULT_HIGH_NEED = [
    {"key": "repeated_incidents", "text": "Repeated behavior incidents this term"},
    {"key": "safety_concern", "text": "A safety concern at home or school"},
    {"key": "chronic_absence", "text": "Chronic absence (10% or more of school days)"},
    {"key": "recent_crisis", "text": "A crisis event in the last 90 days"},
]
TIERS = ("A", "B", "C")


MEMOS = ("tenant_settings", "first_lead")


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction) -> None:
    """A rolled-back transaction may have created what the memos hold."""
    for name in MEMOS:
        session.info.pop(name, None)


def tenant_settings(tenant_id=None) -> TenantSettings:
    """The district's settings (the acting district's, or ``tenant_id``'s), created with
    the defaults on first use. Read once per session: a sweep's chunk shares them."""
    tenant_id = tenant_id or require_principal().tenant_id
    memo = db.session.info.setdefault("tenant_settings", {})
    if tenant_id in memo:
        return memo[tenant_id]
    row = db.session.scalars(
        scoped(TenantSettings).where(TenantSettings.tenant_id == tenant_id)
    ).first()
    if row is None:
        row = TenantSettings(tenant_id=tenant_id)
        db.session.add(row)
        db.session.flush()
    memo[tenant_id] = row
    return row


def active_checklist() -> TriageChecklist:
    """The newest checklist version; version 1 (the defaults) is created on first use."""
    row = db.session.scalars(
        scoped(TriageChecklist).order_by(TriageChecklist.version.desc()).limit(1)
    ).first()
    if row is None:
        row = TriageChecklist(
            version=1, questions=DEFAULT_QUESTIONS, high_need_criteria=DEFAULT_HIGH_NEED
        )
        db.session.add(row)
        db.session.flush()
    return row


def publish_checklist(questions: list[dict], high_need_criteria: list[dict]) -> TriageChecklist:
    """Publish a new checklist version; earlier concerns keep the version that tiered them."""
    require_permission("admin.manage")
    _check_questions(questions, high_need_criteria)
    current = active_checklist()
    row = TriageChecklist(
        version=current.version + 1,
        questions=questions,
        high_need_criteria=high_need_criteria,
        created_by=user_id(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def checklist_history() -> list[TriageChecklist]:
    """Every version of the district's checklist, newest first."""
    require_permission("admin.manage")
    return db.session.scalars(
        scoped(TriageChecklist).order_by(TriageChecklist.version.desc())
    ).all()


def _check_questions(questions, criteria) -> None:
    """The one place a checklist's shape is checked (the admin page and the API both call it):
    keys are stable identifiers, since concerns and audits refer to answers by key."""
    errors = {}
    keys = [q.get("key") for q in questions]
    if not questions or len(set(keys)) != len(keys) or not all(keys):
        errors["questions"] = "each question needs a unique key"
    elif any(q.get("routes_to") not in TIERS or not q.get("text") for q in questions):
        errors["questions"] = "each question needs text and routes_to A, B or C"
    criterion_keys = [c.get("key") for c in criteria]
    if not criteria:
        errors["high_need_criteria"] = "keep at least one high-need criterion"
    elif any(not c.get("key") or not c.get("text") for c in criteria):
        errors["high_need_criteria"] = "each criterion needs a key and text"
    elif len(set(criterion_keys)) != len(criterion_keys):
        errors["high_need_criteria"] = "each criterion needs a unique key"
    bad = [k for k in keys + criterion_keys if k and not KEY.match(k)]
    if bad:
        errors["keys"] = (
            f"keys are short lowercase words joined by underscores (check: {', '.join(bad)})"
        )
    if errors:
        raise InvalidInput(fields=errors)


def designated_lead_id():
    """The district's designated lead, else its first escalation lead (once per session)."""
    from baton.platform.models import Membership

    settings = tenant_settings()
    if settings.designated_lead_id:
        return settings.designated_lead_id
    memo = db.session.info.setdefault("first_lead", {})
    if settings.tenant_id not in memo:
        memo[settings.tenant_id] = db.session.scalars(
            select(Membership.user_id)
            .where(Membership.tenant_id == settings.tenant_id, Membership.role == "escalation_lead")
            .order_by(Membership.created_at)
            .limit(1)
        ).first()
    return memo[settings.tenant_id]


def update_settings(**changes) -> TenantSettings:
    """Change the district's time standards, designated lead or consent policy (admins)."""
    from baton.platform.models import Membership

    require_permission("admin.manage")
    settings = tenant_settings()
    lead = changes.get("designated_lead_id")
    if lead is not None:
        is_lead = db.session.scalars(
            select(Membership.id).where(
                Membership.user_id == lead,
                Membership.tenant_id == settings.tenant_id,
                Membership.role == "escalation_lead",
            )
        ).first()
        if is_lead is None:
            raise InvalidInput(fields={"designated_lead_id": "one of your escalation leads"})
    for name, value in changes.items():
        setattr(settings, name, value)
    db.session.info.pop("first_lead", None)
    db.session.flush()
    return settings
