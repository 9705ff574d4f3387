"""Triage tiers from the versioned checklist, district settings, and the crisis pathway."""

from __future__ import annotations

import pytest
from sqlalchemy import text


def _answers(api, **yes):
    checklist = api.get("/api/v1/settings/triage-checklist").json
    answers = {q["key"]: bool(yes.get(q["key"])) for q in checklist["questions"]}
    high = {c["key"]: bool(yes.get(c["key"])) for c in checklist["high_need_criteria"]}
    return answers, high


def _concern(api, world, **yes):
    answers, high = _answers(api, **yes)
    return api.post(
        f"/api/v1/students/{world.students_a[0].id}/concerns",
        json={"source": "teacher-observation", "answers": answers, "high_need_answers": high},
    )


def test_tiers_and_high_need_follow_the_checklist(world, api_as):
    api = api_as("navigator@a.test")
    plain = _concern(api, world, brief_support_may_help=True)
    assert (plain.status_code, plain.json["tier"], plain.json["high_need"]) == (201, "A", False)
    b = _concern(api, world, daily_functioning=True, chronic_absence=True)
    assert (b.json["tier"], b.json["high_need"], b.json["high_need_reasons"]) == (
        "B",
        True,
        ["chronic_absence"],
    )
    c = _concern(api, world, daily_functioning=True, immediate_risk=True)
    assert c.json["tier"] == "C"


def test_unanswered_questions_are_refused_with_the_keys(world, api_as):
    api = api_as("navigator@a.test")
    response = api.post(
        f"/api/v1/students/{world.students_a[0].id}/concerns",
        json={"source": "screening", "answers": {"immediate_risk": False}, "high_need_answers": {}},
    )
    assert response.status_code == 422
    assert "daily_functioning" in response.json["errors"]["answers"]


def test_a_new_checklist_version_leaves_old_concerns_alone(world, api_as, owner_engine):
    admin = api_as("district_admin@a.test")
    before = _concern(admin, world, daily_functioning=True).json
    published = admin.post(
        "/api/v1/settings/triage-checklist",
        json={
            "questions": [{"key": "needs_help", "text": "Needs help?", "routes_to": "B"}],
            "high_need_criteria": [{"key": "safety_concern", "text": "Safety concern"}],
        },
    )
    assert published.status_code == 201
    after = admin.post(
        f"/api/v1/students/{world.students_a[0].id}/concerns",
        json={
            "source": "screening",
            "answers": {"needs_help": True},
            "high_need_answers": {"safety_concern": False},
        },
    )
    assert after.json["checklist_version"] == published.json["version"] == 2
    assert after.json["tier"] == "B"
    with owner_engine.connect() as conn:
        version = conn.execute(
            text("SELECT checklist_version FROM concerns WHERE id = :i"), {"i": before["id"]}
        ).scalar()
    assert version == 1
    navigator = api_as("navigator@a.test")
    refused = navigator.post("/api/v1/settings/triage-checklist", json=published.json | {})
    assert refused.status_code in (403, 422)


@pytest.mark.parametrize(
    ("questions", "criteria", "field"),
    [
        ([{"key": "Needs Help", "text": "Needs help?", "routes_to": "B"}], None, "keys"),
        (None, [], "high_need_criteria"),
        (None, [{"key": "x", "text": "One"}, {"key": "x", "text": "Two"}], "high_need_criteria"),
        ([{"key": "a", "text": "A?", "routes_to": "D"}], None, "questions"),
    ],
)
def test_the_api_refuses_the_checklists_the_admin_page_refuses(
    world, api_as, owner_engine, questions, criteria, field
):
    """One rule for both callers: the service checks a checklist's shape, not the page."""
    admin = api_as("district_admin@a.test")
    body = {
        "questions": questions or [{"key": "needs_help", "text": "Needs help?", "routes_to": "B"}],
        "high_need_criteria": criteria
        if criteria is not None
        else [{"key": "safety_concern", "text": "Safety concern"}],
    }
    refused = admin.post("/api/v1/settings/triage-checklist", json=body)
    assert refused.status_code == 422, refused.json
    assert refused.content_type == "application/problem+json"
    assert field in refused.json["errors"]
    with owner_engine.connect() as conn:
        versions = conn.execute(
            text("SELECT max(version) FROM triage_checklists WHERE tenant_id = :t"),
            {"t": world.tenant_a.id},
        ).scalar()
    assert versions == 1


def test_settings_change_the_contact_clock(app, world, api_as):
    admin = api_as("district_admin@a.test")
    assert admin.get("/api/v1/settings").json["contact_standard_hours"] == 24
    changed = admin.post("/api/v1/settings", json={"contact_standard_hours": 48})
    assert changed.status_code == 200 and changed.json["contact_standard_hours"] == 48
    bad = admin.post("/api/v1/settings", json={"designated_lead_id": str(world.pa.id)})
    assert bad.status_code == 422
    assert (
        api_as("navigator@a.test")
        .post("/api/v1/settings", json={"contact_standard_hours": 1})
        .status_code
        == 403
    )


def test_crisis_steps_are_timestamped_and_closing_needs_notification_and_plan(world, api_as):
    lead = api_as("escalation_lead@a.test")
    crisis = next(
        c
        for c in lead.get("/api/v1/crisis-records").json
        if c["concern_id"] == str(world.crisis_concern_a)
    )
    url = f"/api/v1/crisis-records/{crisis['id']}"
    step = lead.post(
        f"{url}/steps", json={"action": "stayed-with-student", "role": "stays-with-student"}
    )
    assert step.status_code == 200 and step.json["steps"][0]["at"]
    early = lead.post(f"{url}/close", json={"return_to_school_plan": "Check-ins daily"})
    assert early.status_code == 422 and "caregiver_notified_at" in early.json["errors"]
    lead.post(f"{url}/steps", json={"action": "caregiver-notified", "role": "calls-caregiver"})
    closed = lead.post(f"{url}/close", json={"return_to_school_plan": "Check-ins daily"})
    assert closed.status_code == 200 and closed.json["closed_at"]
    assert closed.json["caregiver_notified_at"]
    assert crisis["id"] not in [c["id"] for c in lead.get("/api/v1/crisis-records").json]


def test_service_logs_are_validated(world, api_as):
    api = api_as("navigator@a.test")
    url = f"/api/v1/students/{world.students_a[0].id}/service-logs"
    bad = api.post(
        url,
        json={
            "service_date": "2099-01-01",
            "minutes": 30,
            "units": 2,
            "practitioner": "J. Doe, LCSW",
            "place_of_service": "77",
            "plan_ref": "IEP-2026",
        },
    )
    assert bad.status_code == 422
    assert {"service_date", "place_of_service"} <= set(bad.json["errors"])
    good = api.post(
        url,
        json={
            "service_date": "2026-11-02",
            "minutes": 30,
            "units": 2,
            "practitioner": "J. Doe, LCSW",
            "place_of_service": "03",
            "plan_ref": "IEP-2026",
            "referral_id": str(world.referral_a.id),
        },
    )
    assert good.status_code == 201, good.json


def test_consent_and_escalation_carry_etags_and_honour_if_match(world, api_as):
    navigator = api_as("navigator@a.test")
    url = f"/api/v1/consents/{world.consent_a.id}"
    read = navigator.get(url)
    assert read.headers["ETag"].startswith('W/"')
    assert (
        navigator.post(f"{url}/revoke", json={}, headers={"If-Match": 'W/"stale"'}).status_code
        == 412
    )
    assert navigator.get(url).json["active"] is True  # nothing changed
    revoked = navigator.post(f"{url}/revoke", json={}, headers={"If-Match": read.headers["ETag"]})
    assert revoked.status_code == 200 and revoked.headers["ETag"] != read.headers["ETag"]
    lead = api_as("escalation_lead@a.test")
    escalation = lead.get("/api/v1/escalations").json[0]
    stale = lead.post(
        f"/api/v1/escalations/{escalation['id']}/close",
        json={"resolution": "connected"},
        headers={"If-Match": 'W/"old"'},
    )
    assert stale.status_code == 412
    etag = lead.get(f"/api/v1/escalations/{escalation['id']}").headers["ETag"]
    assert (
        lead.post(
            f"/api/v1/escalations/{escalation['id']}/close",
            json={"resolution": "connected"},
            headers={"If-Match": etag},
        ).status_code
        == 200
    )
