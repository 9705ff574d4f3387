"""Real journeys in a real browser on the real app (PostgreSQL + Redis)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, screenshot, sign_in
from tests.browser.world import add_services, overdue_high_need_referral
from tests.factories import markers


def test_navigator_refers_a_student_through_the_wizard_and_prints_the_plan(app, world, new_page):
    add_services(app)
    page = new_page()
    sign_in(page, "navigator@a.test")
    page.get_by_role("link", name="Refer a student").click()
    page.get_by_label("Find the student").fill("StuA1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_role("link", name="Refer StuA1").click()

    page.get_by_label("Where the concern came from").select_option("teacher-observation")
    page.get_by_label("What was observed").fill("Withdrawn in class for three weeks")
    for radio in page.locator('input[type=radio][value="no"]').all():
        radio.check()
    page.locator('input[name="q_daily_functioning"][value="yes"]').check()
    page.locator('input[name="h_safety_concern"][value="yes"]').check()
    page.get_by_role("button", name="Save concern and see the tier").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Tier B · high-need")
    expect(page.get_by_text("A safety concern at home or school")).to_be_visible()
    page.get_by_role("link", name="Choose Alpha phone intake").click()

    page.get_by_label("Caregiver", exact=True).select_option(label="Caregiver-of-StuA1")
    for share in ("Referral reason", "Contact details", "Status feedback"):
        page.get_by_label(share).check()
    page.get_by_label("How consent was given").select_option("signed")
    page.get_by_role("button", name="Record consent and continue").click()

    page.get_by_label("The caregiver is here for the warm handoff").check()
    for box in page.locator("fieldset input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Send referral").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Referral sent to Provider Alpha")
    page.get_by_label("Intake date and time").fill("2030-05-06T15:30")
    page.get_by_label("Place").fill("Alpha clinic, 12 Main St")
    page.get_by_role("button", name="Save intake").click()
    expect(page.get_by_text("Intake booked")).to_be_visible()

    page.get_by_role("link", name="Open the family plan to print").click()
    expect(page.get_by_role("heading", name="Family plan")).to_be_visible()
    expect(page.get_by_text("Alpha clinic, 12 Main St")).to_be_visible()
    assert "2030" in page.content()
    page.emulate_media(media="print")
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "journey-wizard-family-plan.pdf"))
    assert (ARTIFACTS / "journey-wizard-family-plan.pdf").stat().st_size > 1000
    screenshot(page, "journey-wizard-family-plan")


def test_provider_accepts_and_schedules_in_the_portal_and_the_tracker_shows_it(
    app, world, new_page
):
    provider = new_page()
    sign_in(provider, "intake@pa.test")
    provider.get_by_role("link", name="StuA0 OnlyAFamily0").click()
    provider.get_by_role("button", name="Accept referral").click()
    expect(provider.get_by_role("status")).to_have_text("Saved: accepted.")
    provider.get_by_label("Intake date and time").fill("2030-05-07T09:00")
    provider.get_by_label("Place").fill("Alpha clinic")
    provider.get_by_role("button", name="Save appointment").click()
    expect(provider.get_by_role("status")).to_have_text("Saved: scheduled.")

    navigator = new_page()
    sign_in(navigator, "navigator@a.test")
    row = navigator.get_by_role("row").filter(has_text="StuA0 OnlyAFamily0")
    expect(row).to_contain_text("scheduled")
    expect(row).to_contain_text("2030")
    screenshot(navigator, "journey-portal-tracker")


def test_overdue_high_need_referral_reaches_the_leads_queue_and_is_resolved(app, world, new_page):
    overdue_high_need_referral(app, world)
    page = new_page()
    sign_in(page, "escalation_lead@a.test")
    assert page.url.endswith("/escalations")
    card = page.locator("section.card").filter(has_text="high need unscheduled")
    expect(card).to_contain_text("StuA1 OnlyAFamily1")
    card.get_by_label("Resolution").select_option("alternative-plan")
    card.get_by_label("What was done").fill("School-based support while the wait clears")
    card.get_by_role("button", name="Resolve escalation").click()
    expect(page.get_by_role("status")).to_have_text("Escalation closed.")
    expect(page.locator("section.card").filter(has_text="high need unscheduled")).to_have_count(0)
    screenshot(page, "journey-escalation-resolved")


def test_a_user_of_another_district_reaches_none_of_it(app, world, new_page):
    page = new_page()
    sign_in(page, "navigator@b.test")
    a_student = world.students_a[0].id
    urls = [
        f"/referrals/{world.referral_a.id}",
        f"/referrals/{world.referral_a.id}/family-plan",
        f"/refer/referral/{world.referral_a.id}/plan",
        f"/students/{a_student}",
        f"/refer/{a_student}",
        f"/provider/referrals/{world.referral_a.id}",
    ]
    for url in urls:
        response = page.goto(url)
        assert response.status in (403, 404), (url, response.status)
        for marker in markers(world, "a"):
            assert marker not in page.content(), (url, marker)
    page.goto("/tracker")
    text = page.content()
    assert "StuB0" in text and not re.search("|".join(markers(world, "a")), text)
    page.goto(f"/referrals/{world.referral_a.id}")
    screenshot(page, "journey-other-district-refused")
