"""The referral state machine: statuses, who may move them, and the FHIR Task status of each.

One table, identical to fhir-profile.md §4-§5, used by every surface. Pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass

DISTRICT, PROVIDER, SYSTEM = "district", "provider", "system"
ACTORS = (DISTRICT, PROVIDER, SYSTEM)

# Baton status -> FHIR Task.status (fhir-profile.md §4). "bounced" leaves Task.status unchanged.
TASK_STATUS: dict[str, str | None] = {
    "draft": "draft",
    "sent": "requested",
    "received": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "redirected": "rejected",
    "scheduled": "in-progress",
    "first-appointment-attended": "in-progress",
    "no-show": "in-progress",
    "engaged": "in-progress",
    "disengaged": "on-hold",
    "bounced": None,
    "closed-completed": "completed",
    "closed-family-declined": "failed",
    "closed-unable-to-reach": "failed",
    "closed-alternative-plan": "cancelled",
    "withdrawn": "cancelled",
    "consent-revoked": "cancelled",
    "entered-in-error": "entered-in-error",
}
STATUSES = tuple(TASK_STATUS)
TERMINAL_TASK = {"rejected", "cancelled", "completed", "failed", "entered-in-error"}
TERMINAL = frozenset(s for s, t in TASK_STATUS.items() if t in TERMINAL_TASK)
OPEN = frozenset(s for s in STATUSES if s not in TERMINAL and s != "draft")

PROVIDER_CLOSURES = ("closed-completed", "closed-family-declined", "closed-unable-to-reach")
IN_PROGRESS = ("scheduled", "first-appointment-attended", "no-show", "engaged")

# (from, to) -> who may make it. Provider moves follow the SDOHCC Task diagram (§5);
# scheduled -> scheduled is a reschedule; first-appointment-attended needs a prior scheduled.
_PROVIDER_MOVES: dict[str, tuple[str, ...]] = {
    "sent": ("received", "accepted", "declined", "redirected"),
    "received": ("accepted", "declined", "redirected"),
    "accepted": ("scheduled", "disengaged", *PROVIDER_CLOSURES),
    "scheduled": (
        "scheduled",
        "first-appointment-attended",
        "no-show",
        "disengaged",
        *PROVIDER_CLOSURES,
    ),
    "no-show": ("scheduled", "disengaged", *PROVIDER_CLOSURES),
    "first-appointment-attended": ("scheduled", "engaged", "disengaged", *PROVIDER_CLOSURES),
    "engaged": ("scheduled", "disengaged", *PROVIDER_CLOSURES),
    "disengaged": ("scheduled", "engaged", *PROVIDER_CLOSURES),
}
# Moves that carry status feedback back to the school: need the status-feedback share class.
FEEDBACK_ONLY = frozenset(
    {"scheduled", "first-appointment-attended", "no-show", "engaged", "disengaged"}
)
# Moves whose reason is required (statusReason in FHIR).
REASON_REQUIRED = frozenset(
    {
        "declined",
        "redirected",
        "disengaged",
        "bounced",
        "closed-family-declined",
        "closed-unable-to-reach",
        "closed-alternative-plan",
        "withdrawn",
    }
)

DECLINE_REASONS = (
    "no-capacity",
    "service-not-offered",
    "eligibility-insurance",
    "age-range",
    "language-unavailable",
    "out-of-area",
    "family-declined",
    "other",
)
BOUNCE_REASONS: dict[str, str] = {
    "bad-contact-info": "Validate contact details at the source and add a second contact.",
    "unsafe-to-contact": "Add a safe-contact step: reach the family only on a safe channel "
    "and time, through the school if needed.",
    "capacity-delay": "Set expectations with the family and offer interim options or another "
    "provider.",
    "eligibility-mismatch": "Tighten referral criteria: check age, insurance and service fit "
    "before sending.",
    "language-access-gap": "Pre-book an interpreter or choose a provider offering the family's "
    "language.",
    "family-declined": "Record the family's decision; offer school-based support and revisit.",
    "other": "Review the case with the escalation lead.",
}


def _table() -> dict[tuple[str, str], frozenset[str]]:
    table: dict[tuple[str, str], set[str]] = {}

    def allow(source: str, target: str, actor: str) -> None:
        table.setdefault((source, target), set()).add(actor)

    allow("draft", "sent", DISTRICT)
    for source, targets in _PROVIDER_MOVES.items():
        for target in targets:
            allow(source, target, PROVIDER)
    for source in OPEN:
        allow(source, "closed-alternative-plan", DISTRICT)
        allow(source, "withdrawn", DISTRICT)
        allow(source, "consent-revoked", SYSTEM)
        allow(source, "consent-revoked", DISTRICT)
        if source != "bounced":
            allow(source, "bounced", DISTRICT)
            allow(source, "bounced", SYSTEM)
    allow("draft", "withdrawn", DISTRICT)
    for source in STATUSES:
        if source != "entered-in-error":
            allow(source, "entered-in-error", DISTRICT)
    return {key: frozenset(actors) for key, actors in table.items()}


TRANSITIONS = _table()


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


def check_transition(
    source: str,
    target: str,
    actor: str,
    *,
    feedback_permitted: bool = True,
    status_before_bounce: str | None = None,
    ever_scheduled: bool = False,
    reason: str | None = None,
) -> Refusal | None:
    """None when ``actor`` may move a referral from ``source`` to ``target``, else why not.

    From ``bounced`` the district may resume the status held before the bounce, and the
    provider may make any move it could make from that status (Task.status never changed).
    """
    if target not in TASK_STATUS:
        return Refusal("unknown-status", f"unknown status {target!r}")
    allowed = TRANSITIONS.get((source, target), frozenset())
    if source == "bounced" and status_before_bounce:
        if target == status_before_bounce and actor in (DISTRICT, SYSTEM):
            allowed = allowed | {actor}
        elif actor == PROVIDER:
            allowed = allowed | TRANSITIONS.get((status_before_bounce, target), frozenset())
    if actor not in allowed:
        if source in TERMINAL:
            return Refusal("terminal-status", f"the referral is {source}; it cannot change")
        return Refusal(
            "transition-refused", f"a {actor} cannot move a referral from {source} to {target}"
        )
    if target == "first-appointment-attended" and not ever_scheduled:
        return Refusal("transition-refused", "attendance needs a scheduled appointment first")
    if actor == PROVIDER and target in FEEDBACK_ONLY and not feedback_permitted:
        return Refusal(
            "feedback-not-consented",
            "the family did not consent to status feedback beyond receipt, "
            "acceptance, decline and closure",
        )
    if target in REASON_REQUIRED and not reason:
        return Refusal("reason-required", f"moving to {target} needs a reason")
    if target == "declined" and reason not in DECLINE_REASONS:
        return Refusal(
            "reason-invalid", f"decline reason must be one of {', '.join(DECLINE_REASONS)}"
        )
    if target == "bounced" and reason not in BOUNCE_REASONS:
        return Refusal(
            "reason-invalid", f"bounce reason must be one of {', '.join(BOUNCE_REASONS)}"
        )
    return None


def targets_for(source: str, actors: tuple[str, ...], *, status_before_bounce: str | None = None):
    """The statuses any of ``actors`` may move a referral in ``source`` to, in table order
    (what a page offers; ``check_transition`` still decides each move)."""
    found = []
    for target in STATUSES:
        allowed = TRANSITIONS.get((source, target), frozenset())
        if source == "bounced" and status_before_bounce:
            if target == status_before_bounce:
                allowed = allowed | {DISTRICT}
            allowed = allowed | (
                TRANSITIONS.get((status_before_bounce, target), frozenset()) & {PROVIDER}
            )
        if allowed & set(actors):
            found.append(target)
    return found
