"""The role landing pages show the loop's real state."""

from __future__ import annotations

from sqlalchemy import text


def test_tracker_puts_overdue_referrals_first(world, login_as, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE referrals SET next_due_at = now() - interval '2 hours' WHERE id = :i"),
            {"i": world.referral_a.id},
        )
    page = login_as("navigator@a.test").get("/tracker").text
    assert '<strong class="bad">1</strong> overdue' in page
    first_row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "StuA0" in first_row and "overdue" in first_row


def test_escalation_queue_lists_open_escalations(world, login_as):
    page = login_as("escalation_lead@a.test").get("/escalations").text
    assert "1 open" in page and "fixture" in page


def test_provider_portal_lists_referrals_addressed_to_it(world, login_as):
    page = login_as("intake@pa.test").get("/provider").text
    assert "Referrals addressed to you <small>1</small>" in page
    assert "District A" in page


def test_notifications_page_shows_the_leads_escalation_notice(world, login_as):
    page = login_as("escalation_lead@a.test").get("/notifications").text
    assert "New escalation (manual)" in page
    assert "New escalation" not in login_as("navigator@a.test").get("/notifications").text
