"""A hand-built event history with known answers: every metric, overall and per group of
every breakdown, equals what is worked out by hand here from the story of each referral
(not from the rollup or metrics code). The rollups are built by the real job, then read
through the real services as a district admin and as the county's commissioner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from baton.platform.extensions import db
from baton.platform.metrics.periods import Month
from baton.platform.models import (
    County,
    CrisisRecord,
    Escalation,
    ProviderOrg,
    Referral,
    ReferralEvent,
    School,
    Student,
)
from baton.platform.models.base import travel_to
from baton.platform.services import county_metrics, metrics
from baton.tenants.context import acting_as
from baton.workers.jobs.rollups import roll_up_new_events
from tests.factories import principal_of

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SEPTEMBER = Month(2026, 9)  # weeks starting Sep 7, 14, 21, 28


def at(month, day, hour=9):
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


@dataclass
class Story:
    """One referral as told by hand, with what the formulas should make of it."""

    student: str
    provider: str
    tier: str
    sent: datetime
    events: list  # (status, at, reason)
    contact: datetime | None = None
    high_need: bool = False
    # worked out by hand:
    stage: int = 0  # 0 sent, 1 received, 2 accepted, 3 scheduled, 4 attended
    contact_bucket: int | None = None  # hours bucket of sent -> contact
    appointment_bucket: int | None = None  # days bucket of sent -> attended
    outcome: str | None = None  # first appointment outcome
    engaged_30d: bool = False
    continuing: bool | None = None  # None: not attended
    repeat: bool = False
    bounced: bool = False


STUDENTS = {  # name: (school, language, iep, grade)
    "s1": ("first", "en", False, "8"),
    "s2": ("second", "es", True, "3"),
    "s3": ("second", "es", False, "3"),
}
STORIES = {
    # Contact after 4 h, attended after exactly 7 days, engaged at day 30 and still at
    # attended + 30 days.
    "r1": Story(
        "s1",
        "pa",
        "B",
        at(9, 8, 10),
        [
            ("received", at(9, 8, 12), None),
            ("accepted", at(9, 9), None),
            ("scheduled", at(9, 10), None),
            ("first-appointment-attended", at(9, 15, 10), None),
            ("engaged", at(9, 20), None),
        ],
        contact=at(9, 8, 14),
        stage=4,
        contact_bucket=4,
        appointment_bucket=7,
        outcome="attended",
        engaged_30d=True,
        continuing=True,
    ),
    # Accepted without a received step; no-show first, then attended after 10 days;
    # disengaged before day 30.
    "r2": Story(
        "s2",
        "pa",
        "A",
        at(9, 9),
        [
            ("accepted", at(9, 9, 15), None),
            ("scheduled", at(9, 11), None),
            ("no-show", at(9, 16), None),
            ("scheduled", at(9, 17), None),
            ("first-appointment-attended", at(9, 19), None),
            ("disengaged", at(10, 1), "moved"),
        ],
        contact=at(9, 10),
        stage=4,
        contact_bucket=24,
        appointment_bucket=10,
        outcome="no-show",
        engaged_30d=False,
        continuing=False,
    ),
    # High-need, never reached: bounced on day 3 for bad contact info.
    "r3": Story(
        "s3",
        "pb",
        "B",
        at(9, 15, 8),
        [("bounced", at(9, 18), "bad-contact-info")],
        high_need=True,
        stage=0,
        bounced=True,
    ),
    # The same student's second referral (a repeat): received, then declined.
    "r4": Story(
        "s1",
        "pa",
        "B",
        at(9, 22, 11),
        [("received", at(9, 22, 13), None), ("declined", at(9, 23), "no-capacity")],
        contact=at(9, 25, 11),
        stage=1,
        contact_bucket=72,
        repeat=True,
    ),
    # Sent on Tuesday Sep 29 (the week starting Sep 28 is September's); attended after 7
    # days, still first-appointment-attended at day 30 (not engaged) and at attended + 30.
    "r5": Story(
        "s2",
        "pb",
        "A",
        at(9, 29, 10),
        [
            ("received", at(9, 29, 12), None),
            ("accepted", at(9, 30), None),
            ("scheduled", at(10, 2), None),
            ("first-appointment-attended", at(10, 6, 10), None),
        ],
        stage=4,
        appointment_bucket=7,
        outcome="attended",
        engaged_30d=False,
        continuing=True,
        repeat=True,
    ),
    # October: outside September (it shows as the next month's cohort).
    "r6": Story("s3", "pa", "A", at(10, 5), [("received", at(10, 6), None)], stage=1, repeat=True),
}
SEPT = ["r1", "r2", "r3", "r4", "r5"]
ESCALATIONS = [  # referral, kind, opened, closed, resolution
    ("r1", "manual", at(9, 9), at(9, 15), "connected"),
    ("r3", "contact-overdue", at(9, 16, 8), at(9, 25), "alternative-plan"),
]
CRISES = [("s3", at(9, 10), at(9, 11), at(9, 12))]  # opened, caregiver notified, closed


@pytest.fixture
def history(app, world, owner_engine):
    """The stories written straight into the tables (as the owner), rolled up by the job."""
    ids = {name: uuid.uuid4() for name in [*STUDENTS, *STORIES]}
    tenant = world.tenant_a.id
    second_school, pb = uuid.uuid4(), uuid.uuid4()
    schools = {"first": world.school_a.id, "second": second_school}
    with owner_engine.begin() as conn:
        conn.execute(
            insert(School.__table__).values(
                tenant_id=tenant, id=second_school, name="Second School", code="A2"
            )
        )
        conn.execute(insert(ProviderOrg.__table__).values(id=pb, name="Provider Two", slug="p2"))
        for name, (school, language, iep, grade) in STUDENTS.items():
            conn.execute(
                insert(Student.__table__).values(
                    tenant_id=tenant,
                    id=ids[name],
                    local_id=f"HB-{name}",
                    first_name="Hand",
                    last_name=name,
                    birth_date=date(2013, 1, 1),
                    grade=grade,
                    school_id=schools[school],
                    preferred_language=language,
                    disability_or_iep=iep,
                )
            )
        providers = {"pa": world.pa.id, "pb": pb}
        for name, story in STORIES.items():
            _write_referral(conn, tenant, ids[name], ids[story.student], providers, story)
        for referral, kind, opened, closed, resolution in ESCALATIONS:
            conn.execute(
                insert(Escalation.__table__).values(
                    tenant_id=tenant,
                    id=uuid.uuid4(),
                    referral_id=ids[referral],
                    kind=kind,
                    status="closed",
                    opened_at=opened,
                    closed_at=closed,
                    resolution=resolution,
                    actions=[],
                )
            )
        for student, opened, notified, closed in CRISES:
            conn.execute(
                insert(CrisisRecord.__table__).values(
                    tenant_id=tenant,
                    id=uuid.uuid4(),
                    student_id=ids[student],
                    concern_id=uuid.uuid4(),
                    opened_at=opened,
                    caregiver_notified_at=notified,
                    closed_at=closed,
                    steps=[{"action": "called-988"}],
                    return_to_school_plan="Plan",
                )
            )
    with app.app_context(), travel_to(NOW):
        roll_up_new_events()
    return {"providers": {world.pa.id: "Provider Alpha", pb: "Provider Two"}}


def _write_referral(conn, tenant, referral_id, student_id, providers, story):
    final = story.events[-1][0] if story.events else "sent"
    conn.execute(
        insert(Referral.__table__).values(
            tenant_id=tenant,
            id=referral_id,
            student_id=student_id,
            provider_id=providers[story.provider],
            tier=story.tier,
            high_need=story.high_need,
            intake_route="portal",
            status=final,
            sent_at=story.sent,
            contact_confirmed_at=story.contact,
            event_count=len(story.events) + 2,
        )
    )
    steps = [("draft", story.sent - timedelta(minutes=5), None), ("sent", story.sent, None)]
    rows = []
    for seq, (status, moment, reason) in enumerate([*steps, *story.events], start=1):
        rows.append(
            {
                "tenant_id": tenant,
                "id": uuid.uuid4(),
                "referral_id": referral_id,
                "seq": seq,
                "at": moment,
                "actor_kind": "provider",
                "surface": "api",
                "to_status": status,
                "reason": reason,
                "detail": {},
            }
        )
    conn.execute(insert(ReferralEvent.__table__), rows)


# ---------------------------------------------------------------- by hand


def _group_of(story: Story, breakdown: str, provider_names):
    school, language, iep, grade = STUDENTS[story.student]
    return {
        "school": {"first": "School-A-Marker", "second": "Second School"}[school],
        "provider": {"pa": "Provider Alpha", "pb": "Provider Two"}[story.provider],
        "tier": f"Tier {story.tier}",
        "language": language,
        "iep": "Disability / IEP" if iep else "No IEP",
        "grade": f"Grade {grade}",
    }[breakdown]


def _nearest_rank(values, pct):
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-pct * len(ordered) // 100)  # ceil
    return ordered[max(1, rank) - 1]


def by_hand(stories: list[Story]) -> dict:
    """The referral metrics of a set of stories, worked out one by one."""
    n = len(stories)
    reached = {k: sum(s.stage >= k for s in stories) for k in range(5)}
    outcomes = [s.outcome for s in stories if s.outcome]
    attended = [s for s in stories if s.continuing is not None]
    contacts = [s.contact_bucket for s in stories if s.contact_bucket is not None]
    days = [s.appointment_bucket for s in stories if s.appointment_bucket is not None]
    return {
        "referrals": (n, None, None),
        "received": (reached[1], n),
        "accepted": (reached[2], reached[1]),
        "scheduled": (reached[3], reached[2]),
        "attended": (reached[4], reached[3]),
        "connected": (reached[4], n),
        "engaged_30d": (sum(s.engaged_30d for s in stories), n),  # all matured by NOW
        "no_show_rate": (outcomes.count("no-show"), len(outcomes)),
        "continuity_30d": (sum(bool(s.continuing) for s in attended), len(attended)),
        "repeat_rate": (sum(s.repeat for s in stories), n),
        "bounce_rate": (sum(s.bounced for s in stories), n),
        "first_contact_median": (_nearest_rank(contacts, 50), len(contacts), None),
        "first_contact_p90": (_nearest_rank(contacts, 90), len(contacts), None),
        "first_appointment_median": (_nearest_rank(days, 50), len(days), None),
        "first_appointment_p90": (_nearest_rank(days, 90), len(days), None),
    }


def assert_values(values, expected, where):
    for key, want in expected.items():
        got = values[key]
        if len(want) == 2:  # a rate: numerator, denominator
            rate = want[0] / want[1] if want[1] else None
            assert (got.numerator, got.denominator, got.value) == (*want, rate), (where, key)
        else:
            assert got.value == want[0], (where, key, got)
            if want[1] is not None:
                assert got.numerator == want[1], (where, key, got)


# ---------------------------------------------------------------- the checks


def test_every_metric_overall_equals_the_hand_count(app, history):
    with app.app_context(), travel_to(NOW), acting_as(principal_of("district_admin@a.test")):
        figures = metrics.district_figures(SEPTEMBER)
    overall = figures.overall
    assert_values(overall, by_hand([STORIES[r] for r in SEPT]), "district")
    # By hand: escalations for r1 (manual, connected) and r3 (alternative plan), one crisis.
    assert overall["escalations_opened"].value == 2
    assert overall["escalations_closed"].value == 2
    assert (
        overall["escalations_connected"].numerator,
        overall["escalations_connected"].denominator,
    ) == (1, 2)
    assert overall["crisis_events"].value == 1
    assert (overall["crisis_notified"].numerator, overall["crisis_notified"].denominator) == (1, 1)
    assert overall["bounces"].value == 1


@pytest.mark.parametrize("breakdown", ["school", "provider", "tier", "language", "iep", "grade"])
def test_every_metric_by_every_breakdown_equals_the_hand_count(app, history, breakdown):
    with app.app_context(), travel_to(NOW), acting_as(principal_of("district_admin@a.test")):
        figures = metrics.district_figures(SEPTEMBER, (breakdown,))
    groups = figures.breakdowns[breakdown].groups
    expected: dict[str, list[Story]] = {}
    for name in SEPT:
        story = STORIES[name]
        expected.setdefault(_group_of(story, breakdown, history["providers"]), []).append(story)
    referral_groups = {g: v for g, v in groups.items() if v["referrals"].value}
    assert set(referral_groups) == set(expected)
    for group, stories in expected.items():
        assert_values(groups[group], by_hand(stories), (breakdown, group))


def test_the_crisis_counts_under_tier_c_and_the_next_month_holds_the_october_cohort(app, history):
    with app.app_context(), travel_to(NOW), acting_as(principal_of("district_admin@a.test")):
        september = metrics.district_figures(SEPTEMBER, ("tier",))
        october = metrics.district_figures(Month(2026, 10), ("tier",))
    assert september.breakdowns["tier"].groups["Tier C"]["crisis_events"].value == 1
    assert october.overall["referrals"].value == 1  # r6
    rows = metrics.governance_rows(october, september)
    sent = next(r for r in rows if r["group"] == "All referrals" and r["key"] == "referrals")
    assert (sent["this_month"], sent["previous_month"], sent["change"]) == (1, 5, -4)


def test_bounce_review_counts_reasons_by_week(app, history):
    with app.app_context():
        auditor = principal_of("auditor@a.test")
    with app.app_context(), travel_to(datetime(2026, 9, 30, tzinfo=UTC)), acting_as(auditor):
        weeks, rows = metrics.bounce_review()
    bad_contact = next(r for r in rows if r.reason == "bad-contact-info")
    assert bad_contact.per_week[weeks.index(date(2026, 9, 14))] == 1
    assert bad_contact.total == 1 and rows[0] is bad_contact
    assert "Validate contact details" in bad_contact.fix


def test_county_view_counts_by_hand_and_suppresses_at_the_threshold(app, history, owner_engine):
    with app.app_context():
        commissioner = principal_of("commissioner@test.test")
    with owner_engine.begin() as conn:
        conn.execute(update(County.__table__).values(suppression_threshold=1))
    with app.app_context(), travel_to(NOW), acting_as(commissioner):
        open_ = county_metrics.county_figures(SEPTEMBER, "district")
    kind, funnel, names = open_.tables["funnel"]
    row = next(g for g in funnel.rows if names[g] == "District A")
    # By hand: r3 never received, r4 received only, r1 r2 r5 attended.
    cells = {c: funnel.cell(row, c) for c in funnel.columns}
    assert cells == {"not-received": 1, "received": 1, "accepted": 0, "scheduled": 0, "attended": 3}
    assert funnel.row_totals[row] == 5
    with owner_engine.begin() as conn:
        conn.execute(update(County.__table__).values(suppression_threshold=11))
    with app.app_context(), travel_to(NOW), acting_as(commissioner):
        hidden = county_metrics.county_figures(SEPTEMBER, "district")
    funnel = hidden.tables["funnel"][1]
    shown = [funnel.cell(g, c) for g in funnel.rows for c in funnel.columns]
    assert all(v is None or v == 0 for v in shown)  # every count is under 11
    assert funnel.grand is None
    with app.app_context():
        db.session.remove()
