"""The staff pages through the test client: each action is a service call, refusals are
explained in words next to the form, nothing a user types gives a 500, views are audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

TOKEN = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')


def submit(client, url, page: str, prefix: str | None, **fields):
    """Post one of the page's forms (its prefix, its version field, the session's token)."""
    data = {}
    if prefix:
        version = re.search(rf'id="{prefix}-version"[^>]*value="(\d+)"', page)
        data = {
            f"{prefix}-action": prefix,
            f"{prefix}-version": version.group(1) if version else "",
        }
        data |= {f"{prefix}-{k}": v for k, v in fields.items()}
        data[f"{prefix}-csrf_token"] = TOKEN.search(page).group(1)
    else:
        data = dict(fields, csrf_token=TOKEN.search(page).group(1))
    return client.post(url, data=data)


def _status(owner_engine, referral_id):
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM referrals WHERE id = :i"), {"i": referral_id}
        ).scalar_one()


@pytest.mark.parametrize(
    ("email", "urls"),
    [
        (
            "navigator@a.test",
            [
                "/tracker",
                "/refer",
                "/refer?q=Stu",
                "/refer/new-student",
                "/caseload",
                "/crisis",
                "/students",
                "/notifications",
            ],
        ),
        ("escalation_lead@a.test", ["/escalations", "/tracker", "/crisis"]),
        ("district_admin@a.test", ["/admin", "/admin/checklist", "/admin/deliveries"]),
        ("intake@pa.test", ["/provider", "/provider?status=sent", "/notifications"]),
    ],
)
def test_main_pages_answer_for_their_roles(world, login_as, email, urls):
    client = login_as(email)
    for url in urls:
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        assert 'href="#main"' in page.text  # the skip link on every page


def test_tracker_filters_live_in_the_url(world, login_as):
    client = login_as("navigator@a.test")
    everything = client.get("/tracker").text
    assert "StuA0 OnlyAFamily0" in everything
    narrowed = client.get(f"/tracker?tier=A&provider={world.pa.id}").text
    assert "No open referral matches these filters" in narrowed
    assert '<option value="A" selected>' in narrowed
    assert client.get("/tracker?tier=B&language=en&status=sent&school=junk").status_code == 200
    assert "StuA0" in client.get("/tracker?tier=B&status=sent").text


def test_referral_page_shows_the_loop_and_is_audited(world, login_as, owner_engine):
    navigator = login_as("navigator@a.test")

    def reads() -> int:
        with owner_engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM audit_log WHERE action = 'read' AND object_type = "
                    "'referral' AND object_id = :i AND surface = 'ui'"
                ),
                {"i": str(world.referral_a.id)},
            ).scalar_one()

    before = reads()  # the world's audit sample has read it once already
    page = navigator.get(f"/referrals/{world.referral_a.id}")
    assert page.status_code == 200
    for part in (
        'Status: <span class="status">sent</span>',
        "Timeline",
        "Contact attempts",
        "Log a contact attempt",
        "Bounce (a reason is required)",
        "Consent",
    ):
        assert part in page.text
    assert reads() == before + 1


def test_refusals_are_explained_next_to_the_form(world, login_as, owner_engine):
    client = login_as("navigator@a.test")
    url = f"/referrals/{world.referral_a.id}"
    page = client.get(url).text
    refused = submit(client, url, page, "status", status="withdrawn", reason="")
    assert refused.status_code == 409
    assert "moving to withdrawn needs a reason" in refused.text
    unsafe = submit(
        client,
        url,
        page,
        "attempt",
        caregiver_id=str(world.caregiver_a),
        channel="email",
        outcome="reached",
    )
    assert unsafe.status_code == 422 and "not a safe channel" in unsafe.text
    assert (
        submit(
            client,
            url,
            page,
            "attempt",
            caregiver_id=str(world.caregiver_a),
            channel="phone",
            outcome="reached",
        ).status_code
        == 302
    )
    stale = submit(client, url, page, "bounce", reason="capacity-delay")  # version moved on?
    assert stale.status_code in (302, 412)
    assert submit(client, url, page, "nonsense").status_code == 422
    assert _status(owner_engine, world.referral_a.id) in ("sent", "bounced")


def test_bounce_then_resume_from_the_page(world, login_as, owner_engine):
    client = login_as("navigator@a.test")
    url = f"/referrals/{world.referral_a.id}"
    bounced = submit(client, url, client.get(url).text, "bounce", reason="bad-contact-info")
    assert bounced.status_code == 302 and _status(owner_engine, world.referral_a.id) == "bounced"
    page = client.get(url).text
    assert "Validate contact details at the source" in page
    assert submit(client, url, page, "resume").status_code == 302
    assert _status(owner_engine, world.referral_a.id) == "sent"


def test_tier_c_goes_to_the_crisis_pathway(world, login_as):
    client = login_as("navigator@a.test")
    student = world.students_a[1]
    url = f"/refer/{student.id}"
    page = client.get(url).text
    keys = re.findall(r'name="([qh]_\w+)"[^>]*value="yes"', page)
    missing = submit(client, url, page, None, source="screening")
    assert missing.status_code == 422 and "Answer yes or no." in missing.text
    answers = {k: "no" for k in keys} | {"q_immediate_risk": "yes"}
    sent = submit(client, url, page, None, source="screening", **answers)
    assert sent.status_code == 302 and "/crisis/" in sent.headers["Location"]
    crisis = client.get(sent.headers["Location"])
    assert "Tier C: immediate risk" in crisis.text
    close_url = sent.headers["Location"].split("?")[0] + "/close"
    early = submit(client, close_url, crisis.text, "close", return_to_school_plan="Back Monday")
    assert early.status_code == 422 and "caregiver notification" in early.text
    step_url = sent.headers["Location"].split("?")[0] + "/steps"
    assert (
        submit(
            client,
            step_url,
            crisis.text,
            "step",
            action="caregiver-notified",
            role="calls-caregiver",
            note="",
        ).status_code
        == 302
    )
    closed = submit(client, close_url, crisis.text, "close", return_to_school_plan="Back Monday")
    assert closed.status_code == 302


def test_consent_step_keeps_errors_next_to_fields(world, login_as, app):
    from tests.browser.world import add_services, concern_for

    add_services(app)
    concern = concern_for(app, world, world.students_a[1])
    client = login_as("navigator@a.test")
    service = re.search(r"service=([0-9a-f-]{36})", client.get(f"/refer/concern/{concern}").text)
    url = f"/refer/concern/{concern}/consent?service={service.group(1)}"
    page = client.get(url).text
    refused = submit(
        client,
        url,
        page,
        None,
        consenter="caregiver",
        caregiver_id="",
        share_classes="referral-reason",
        method="verbal-witnessed",
    )
    assert refused.status_code == 422
    assert re.search(r'id="witness-error"[^>]*>verbal consent needs the witness', refused.text)
    assert "choose one of this student" in refused.text
    bad_service = client.get(f"/refer/concern/{concern}/consent?service=not-a-uuid")
    assert bad_service.status_code == 422 and "partner providers" in bad_service.text


def test_escalation_queue_resolves_with_a_reason(world, login_as, owner_engine):
    client = login_as("escalation_lead@a.test")
    page = client.get("/escalations").text
    url = re.search(r'action="(/escalations/[0-9a-f-]+/close)"', page).group(1)
    prefix = re.search(r'name="(e[0-9a-f]{8})-resolution"', page).group(1)
    bad = client.post(
        url,
        data={f"{prefix}-resolution": "magic", f"{prefix}-csrf_token": TOKEN.search(page).group(1)},
    )
    assert bad.status_code == 422 and "Not a valid choice" in bad.text
    done = client.post(
        url,
        data={
            f"{prefix}-resolution": "connected",
            f"{prefix}-csrf_token": TOKEN.search(page).group(1),
        },
    )
    assert done.status_code == 302
    assert "No escalations are open" in client.get("/escalations").text


def test_provider_portal_moves_are_the_fhir_moves(world, login_as, owner_engine):
    client = login_as("intake@pa.test")
    url = f"/provider/referrals/{world.referral_a.id}"
    page = client.get(url).text
    assert "Accept referral" in page and "Decline" in page
    nowhere = submit(client, url, page, "redirected", redirected_to="")
    assert nowhere.status_code == 422 and "This field is required" in nowhere.text
    assert submit(client, url, page, "accepted").status_code == 302
    page = client.get(url).text
    early = submit(client, url, page, "first-appointment-attended")
    assert early.status_code == 422  # not offered before a booking
    assert _status(owner_engine, world.referral_a.id) == "accepted"
    for typed in ("9999-12-31T23:59", "tomorrow", ""):
        refused = submit(client, url, page, "scheduled", appointment_at=typed)
        assert refused.status_code == 422, typed
    assert "enter a real date and time" in refused.text or "Enter the date" in refused.text
    # Disengaged is one button with an optional reason: no hidden choice it depends on.
    page = client.get(url).text
    assert submit(client, url, page, "disengaged", reason="moved away").status_code == 302
    assert _status(owner_engine, world.referral_a.id) == "disengaged"


def test_admin_manages_staff_standards_and_the_checklist(world, login_as, owner_engine):
    client = login_as("district_admin@a.test")
    page = client.get("/admin").text
    short = submit(
        client,
        "/admin/staff",
        page,
        "staff",
        email="new@a.test",
        name="New",
        role="navigator",
        password="short",
    )
    assert short.status_code == 422 and "at least 12 characters" in short.text
    assert (
        submit(
            client,
            "/admin/staff",
            page,
            "staff",
            email="new@a.test",
            name="New",
            role="navigator",
            password="a-long-enough-password",
        ).status_code
        == 302
    )
    assert "new@a.test" in client.get("/admin").text
    saved = submit(
        client,
        "/admin/settings",
        page,
        "settings",
        contact_standard_hours="48",
        high_need_schedule_days="5",
        bounce_after_days="3",
        day1_attempts="2",
        day2_attempts="1",
        count_weekends="y",
        designated_lead_id="",
    )
    assert saved.status_code == 302
    assert 'value="48"' in client.get("/admin").text
    checklist = client.get("/admin/checklist").text
    from baton.platform.services.settings import DEFAULT_HIGH_NEED, DEFAULT_QUESTIONS

    rows = {f"q-{n}-{k}": v for n, q in enumerate(DEFAULT_QUESTIONS) for k, v in q.items()}
    rows |= {f"h-{n}-{k}": v for n, c in enumerate(DEFAULT_HIGH_NEED) for k, v in c.items()}
    bad = submit(client, "/admin/checklist", checklist, None, **(rows | {"q-0-key": "Bad Key!"}))
    assert bad.status_code == 422 and "lowercase" in bad.text
    published = submit(
        client,
        "/admin/checklist",
        checklist,
        None,
        **(rows | {"q-9-key": "new_question", "q-9-text": "Asked for help?", "q-9-routes_to": "B"}),
    )
    assert published.status_code == 302
    assert "version 2 in use" in client.get("/admin/checklist").text


def test_caseload_puts_bounced_referrals_on_the_weekly_review_list(app, world, login_as):
    from tests.platform.test_status_links import _second_referral_to_pa

    other = _second_referral_to_pa(app, world)  # started by the navigator: their caseload
    client = login_as("navigator@a.test")
    url = f"/referrals/{other}"
    assert (
        submit(client, url, client.get(url).text, "bounce", reason="capacity-delay").status_code
        == 302
    )
    page = client.get("/caseload").text
    review = page.split("<h2>Weekly review list</h2>")[1].split("<h2>")[0]
    assert "StuA1 OnlyAFamily1" in review and "bounced" in review
    assert "StuA0" not in page  # started by someone else: not this navigator's caseload


def test_the_crisis_list_is_an_audited_read_of_each_record(world, login_as, owner_engine):
    page = login_as("escalation_lead@a.test").get("/crisis")
    assert page.status_code == 200 and world.students_a[0].last_name in page.text
    with owner_engine.connect() as conn:
        crisis_id, tenant_id = conn.execute(
            text("SELECT id, tenant_id FROM crisis_records WHERE concern_id = :c"),
            {"c": world.crisis_concern_a},
        ).one()
        listed = (
            conn.execute(
                text(
                    "SELECT detail FROM audit_log WHERE action = 'list' AND surface = 'ui'"
                    " AND object_type = 'crisis_record' AND tenant_id = :t"
                ),
                {"t": tenant_id},
            )
            .scalars()
            .all()
        )
    assert any(str(crisis_id) in row["ids"] for row in listed)


def test_the_escalation_queue_is_an_audited_read_of_its_referrals(world, login_as, owner_engine):
    page = login_as("escalation_lead@a.test").get("/escalations")
    assert page.status_code == 200 and world.students_a[0].last_name in page.text
    with owner_engine.connect() as conn:
        listed = (
            conn.execute(
                text(
                    "SELECT detail FROM audit_log WHERE action = 'list' AND surface = 'ui'"
                    " AND object_type = 'referral' AND tenant_id = :t"
                ),
                {"t": world.tenant_a.id},
            )
            .scalars()
            .all()
        )
    assert any(str(world.referral_a.id) in row["ids"] for row in listed)
