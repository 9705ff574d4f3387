"""The referral state machine, exhaustively: every (from, to, actor) triple is either
allowed (one event appended, status moved) or refused with TransitionRefused (nothing
changed). The expected table is restated here from fhir-profile.md §5, not imported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from baton.platform.errors import NotFound, TransitionRefused
from baton.platform.extensions import db
from baton.platform.models import Referral, ReferralEvent
from baton.platform.services import referrals as svc
from baton.tenants.context import acting_as, system_scope
from tests.factories import principal_of

STATUSES = [
    "draft",
    "sent",
    "received",
    "accepted",
    "declined",
    "redirected",
    "scheduled",
    "first-appointment-attended",
    "no-show",
    "engaged",
    "disengaged",
    "bounced",
    "closed-completed",
    "closed-family-declined",
    "closed-unable-to-reach",
    "closed-alternative-plan",
    "withdrawn",
    "consent-revoked",
    "entered-in-error",
]
TERMINAL = {
    "declined",
    "redirected",
    "closed-completed",
    "closed-family-declined",
    "closed-unable-to-reach",
    "closed-alternative-plan",
    "withdrawn",
    "consent-revoked",
    "entered-in-error",
}
OPEN = [s for s in STATUSES if s not in TERMINAL and s != "draft"]
CLOSE_BY_PROVIDER = {"closed-completed", "closed-family-declined", "closed-unable-to-reach"}
PROVIDER = {
    "sent": {"received", "accepted", "declined", "redirected"},
    "received": {"accepted", "declined", "redirected"},
    "accepted": {"scheduled", "disengaged"} | CLOSE_BY_PROVIDER,
    "scheduled": {"scheduled", "first-appointment-attended", "no-show", "disengaged"}
    | CLOSE_BY_PROVIDER,
    "no-show": {"scheduled", "disengaged"} | CLOSE_BY_PROVIDER,
    "first-appointment-attended": {"scheduled", "engaged", "disengaged"} | CLOSE_BY_PROVIDER,
    "engaged": {"scheduled", "disengaged"} | CLOSE_BY_PROVIDER,
    "disengaged": {"scheduled", "engaged"} | CLOSE_BY_PROVIDER,
}
BOUNCED_FROM = "sent"  # the bounced fixture was bounced from "sent"


def expected(source: str, target: str, actor: str) -> bool:
    if actor == "provider":
        origin = BOUNCED_FROM if source == "bounced" else source
        return target in PROVIDER.get(origin, set())
    allowed = set()
    if source in OPEN:
        allowed |= {"consent-revoked"}
        if source != "bounced":
            allowed |= {"bounced"}
        if actor == "district":
            allowed |= {"closed-alternative-plan", "withdrawn"}
    if actor == "district":
        if source == "draft":
            allowed |= {"sent", "withdrawn"}
        if source == "bounced":
            allowed |= {BOUNCED_FROM}
        if source != "entered-in-error":
            allowed |= {"entered-in-error"}
    if actor == "system" and source == "bounced":
        allowed |= {BOUNCED_FROM}
    return target in allowed


REASONS = {"declined": "no-capacity", "bounced": "capacity-delay"}


def _set_status(referral_id, status: str) -> None:
    with system_scope("test: put the referral in a given state"):
        db.session.execute(
            update(Referral)
            .where(Referral.id == referral_id)
            .values(
                status=status,
                ever_scheduled=True,
                status_before_bounce=BOUNCED_FROM if status == "bounced" else None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
    db.session.expire_all()


def _status(referral_id) -> str:
    with system_scope("test: read the status"):
        return db.session.scalar(select(Referral.status).where(Referral.id == referral_id))


def _events(referral_id) -> int:
    with system_scope("test: count events"):
        return db.session.scalar(
            select(func.count())
            .select_from(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
        )


@pytest.mark.parametrize("actor", ["district", "provider", "system"])
def test_every_transition_is_allowed_or_refused_as_the_profile_says(app, world, actor):
    referral_id = world.referral_a.id
    appointment = svc.Appointment(at=datetime.now(UTC) + timedelta(days=2), place="Clinic")
    mismatches = []
    with app.app_context():
        if actor == "system":
            scope = system_scope("test: system actor", surface="job")
        else:
            email = "navigator@a.test" if actor == "district" else "intake@pa.test"
            scope = acting_as(principal_of(email))
        with scope:
            for source in STATUSES:
                for target in STATUSES:
                    _set_status(referral_id, source)
                    before = _events(referral_id)
                    try:
                        svc.transition_referral(
                            referral_id,
                            target,
                            reason=REASONS.get(target, "test reason"),
                            appointment=appointment,
                            redirected_to="Other clinic",
                        )
                        allowed = True
                    except TransitionRefused:
                        allowed = False
                    except NotFound:
                        # A draft has not been sent: the provider cannot even see it.
                        assert (actor, source) == ("provider", "draft")
                        allowed = False
                    moved = _status(referral_id)
                    after = _events(referral_id)
                    if allowed != expected(source, target, actor):
                        mismatches.append((source, target, "allowed" if allowed else "refused"))
                    elif allowed:
                        assert (moved, after) == (target, before + 1), (source, target)
                    else:
                        assert (moved, after) == (source, before), (source, target)
            db.session.rollback()
    assert mismatches == []


def test_refusal_over_the_api_is_409_problem_and_changes_nothing(app, world, login_as):
    client = login_as("navigator@a.test")
    url = f"/api/v1/referrals/{world.referral_a.id}"
    read = client.get(url)
    token = client.get("/login").text.split('name="csrf_token"')[1].split('value="')[1]
    token = token.split('"')[0]
    response = client.post(
        f"{url}/status",
        json={"status": "engaged"},
        headers={"If-Match": read.headers["ETag"], "X-CSRFToken": token},
    )
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/transition-refused")
    again = client.get(url)
    assert again.json["status"] == "sent" and again.headers["ETag"] == read.headers["ETag"]
    events = client.get(f"{url}/events").json
    assert [e["to_status"] for e in events] == ["draft", "sent"]
