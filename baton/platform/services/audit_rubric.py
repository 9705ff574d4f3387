"""The audit rubric (product.md step 11), checked from the data for one case.

Each check answers ``pass``, ``fail`` or ``n/a`` with the facts it used, so the auditor can
confirm or dispute it:

- tier: the tier stored on the referral equals the tier its concern's answers give under the
  checklist version that tiered it (services.triage.tier_for);
- warm-handoff: contact with the family was confirmed within the district's contact standard
  (hours) of sending, with the caregiver present at the handoff noted;
- consent: the referral names a consent for its provider obtained at or before sending, not
  revoked or expired by then (nothing may be shared without it);
- escalation: when one was due (contact not confirmed within the standard, or a high-need
  referral not scheduled within its days), an escalation was opened for the referral and
  followed (closed, or with actions logged).
Crisis records: tier C from the answers, caregiver notified, steps documented, closed with a
return-to-school plan.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import (
    Concern,
    Consent,
    CrisisRecord,
    Escalation,
    Referral,
    ReferralEvent,
    TriageChecklist,
)
from baton.platform.models.base import as_utc, utcnow
from baton.platform.services.settings import tenant_settings
from baton.platform.services.triage import tier_for
from baton.tenants.scoping import scoped

PASS, FAIL, NA = "pass", "fail", "n/a"


def _check(rule: str, result: str, detail: str) -> dict:
    return {"rule": rule, "result": result, "detail": detail}


def check_referral(referral: Referral) -> list[dict]:
    return [
        check_tier(referral),
        check_warm_handoff(referral),
        check_consent(referral),
        check_escalation(referral),
    ]


def _concern(referral_or_crisis) -> Concern | None:
    return db.session.scalars(
        scoped(Concern).where(Concern.id == referral_or_crisis.concern_id)
    ).first()


def _tier_from_answers(concern: Concern) -> str | None:
    checklist = db.session.scalars(
        scoped(TriageChecklist).where(TriageChecklist.id == concern.checklist_id)
    ).first()
    return tier_for(checklist.questions, concern.answers) if checklist else None


def check_tier(referral: Referral) -> dict:
    concern = _concern(referral)
    if concern is None:
        return _check("tier", FAIL, "no concern with triage answers is linked")
    expected = _tier_from_answers(concern)
    yes = sorted(k for k, v in concern.answers.items() if v)
    detail = f"stored {referral.tier}, answers give {expected} (yes: {', '.join(yes) or 'none'})"
    return _check("tier", PASS if expected == referral.tier else FAIL, detail)


def check_warm_handoff(referral: Referral) -> dict:
    if referral.sent_at is None:
        return _check("warm-handoff", NA, "never sent")
    hours = tenant_settings(referral.tenant_id).contact_standard_hours
    due = as_utc(referral.sent_at) + timedelta(hours=hours)
    present = "caregiver present" if referral.caregiver_present else "caregiver not present"
    contact = as_utc(referral.contact_confirmed_at)
    if contact is None:
        result = FAIL if utcnow() > due else NA
        return _check(
            "warm-handoff", result, f"no contact confirmed; standard {hours} h; {present}"
        )
    taken = (contact - as_utc(referral.sent_at)).total_seconds() / 3600
    detail = f"contact confirmed after {taken:.1f} h (standard {hours} h); {present}"
    return _check("warm-handoff", PASS if contact <= due else FAIL, detail)


def check_consent(referral: Referral) -> dict:
    if referral.sent_at is None:
        return _check("consent", NA, "never sent: nothing was shared")
    consent = db.session.scalars(scoped(Consent).where(Consent.id == referral.consent_id)).first()
    if consent is None:
        return _check("consent", FAIL, "sent without a recorded consent")
    sent = as_utc(referral.sent_at)
    problems = []
    if consent.provider_id != referral.provider_id:
        problems.append("the consent names another provider")
    if as_utc(consent.obtained_at) > sent:
        problems.append("consent recorded after the referral was sent")
    if consent.revoked_at is not None and as_utc(consent.revoked_at) <= sent:
        problems.append("consent revoked before sending")
    if consent.expires_on is not None and consent.expires_on < sent.date():
        problems.append("consent expired before sending")
    detail = "; ".join(problems) or f"consent ({consent.method}) recorded before sending"
    return _check("consent", FAIL if problems else PASS, detail)


def _first_scheduled(referral: Referral):
    return db.session.scalar(
        select(ReferralEvent.at)
        .where(
            ReferralEvent.tenant_id == referral.tenant_id,
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.to_status == "scheduled",
        )
        .order_by(ReferralEvent.at)
        .limit(1)
    )


def check_escalation(referral: Referral) -> dict:
    if referral.sent_at is None:
        return _check("escalation", NA, "never sent")
    settings = tenant_settings(referral.tenant_id)
    sent, now = as_utc(referral.sent_at), utcnow()
    reasons = []
    contact_due = sent + timedelta(hours=settings.contact_standard_hours)
    contact = as_utc(referral.contact_confirmed_at)
    if (contact is None and now > contact_due) or (contact is not None and contact > contact_due):
        reasons.append("contact not confirmed within the standard")
    if referral.high_need:
        schedule_due = sent + timedelta(days=settings.high_need_schedule_days)
        scheduled = as_utc(_first_scheduled(referral))
        late = scheduled > schedule_due if scheduled else now > schedule_due
        if late:
            reasons.append(f"high-need, not scheduled within {settings.high_need_schedule_days} d")
    if not reasons:
        return _check("escalation", NA, "no escalation was due")
    escalations = db.session.scalars(
        scoped(Escalation).where(Escalation.referral_id == referral.id)
    ).all()
    if not escalations:
        return _check("escalation", FAIL, "due (" + "; ".join(reasons) + ") but none was opened")
    followed = [e for e in escalations if e.status == "closed" or e.actions]
    detail = f"due ({'; '.join(reasons)}); {len(escalations)} opened, {len(followed)} followed"
    return _check("escalation", PASS if followed else FAIL, detail)


def check_crisis(crisis: CrisisRecord) -> list[dict]:
    concern = _concern(crisis)
    expected = _tier_from_answers(concern) if concern else None
    checks = [
        _check("tier", PASS if expected == "C" else FAIL, f"answers give {expected}"),
        _check(
            "caregiver-notified",
            PASS if crisis.caregiver_notified_at else FAIL,
            "caregiver notification recorded" if crisis.caregiver_notified_at else "not recorded",
        ),
        _check(
            "steps-documented",
            PASS if crisis.steps else FAIL,
            f"{len(crisis.steps or [])} timestamped steps",
        ),
    ]
    if crisis.closed_at is None:
        checks.append(_check("return-plan", NA, "still open"))
    else:
        plan = bool((crisis.return_to_school_plan or "").strip())
        checks.append(_check("return-plan", PASS if plan else FAIL, "return-to-school plan"))
    return checks
