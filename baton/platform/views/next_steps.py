"""What happens next on a referral, in words, with the due time that drives it."""

from __future__ import annotations

from datetime import datetime

from baton.platform import lifecycle
from baton.platform.models import Referral

NEXT = {
    "draft": "Record consent and send it through the provider's intake route.",
    "sent": "The provider confirms receipt; the family must be contacted within the standard.",
    "received": "The provider accepts, declines or redirects.",
    "accepted": "The provider schedules the intake appointment.",
    "scheduled": "The family attends the intake; a reminder goes out the day before.",
    "no-show": "Reach the family, look at barriers, and reschedule.",
    "first-appointment-attended": "The provider confirms ongoing engagement.",
    "engaged": "Check in at the weekly review until the provider closes the referral.",
    "disengaged": "Reach the family about barriers; re-engage or close with a plan.",
    "bounced": "Do the next action, then resume the referral or close it with a plan.",
}


def next_step(referral: Referral) -> tuple[str, list[tuple[str, datetime]]]:
    """The sentence for the current status and the pending due times, soonest first."""
    if referral.status in lifecycle.TERMINAL:
        return f"Closed ({referral.status.replace('-', ' ')}). Nothing is due.", []
    dues = [
        ("contact the family", referral.contact_due_at),
        ("bounce decision (day 3 without contact)", referral.bounce_due_at),
        ("high-need intake scheduled", referral.schedule_due_at),
        ("contact attempts nudge", referral.attempt_prompt_due_at),
        ("appointment reminder", referral.reminder_due_at),
    ]
    pending = sorted(((label, due) for label, due in dues if due), key=lambda item: item[1])
    text = NEXT.get(referral.status, "")
    if referral.bounce_decision_due_since:
        text = "Day 3 without contact: bounce this referral with a reason. " + text
    return text, pending
