"""The dashboards in a real browser: the locally served Chart.js draws every chart from the
page's figures, and the county page shows suppression (the session's Chromium)."""

from __future__ import annotations

from datetime import timedelta

from baton.platform.models.base import travel_to, utcnow
from baton.platform.services.rollups import SAFETY_LAG
from baton.workers.jobs.rollups import roll_up_new_events
from tests.browser.conftest import sign_in


def test_dashboard_charts_draw_and_county_page_suppresses(app, world, new_page):
    with app.app_context(), travel_to(utcnow() + 2 * SAFETY_LAG + timedelta(seconds=1)):
        roll_up_new_events()
    page = new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, "district_admin@a.test")
    page.goto("/metrics")
    drawn = page.evaluate(
        "['funnel-chart', 'trend-chart', 'groups-chart'].map(id => {"
        " const c = Chart.getChart(id); return c ? c.data.datasets[0].data : null; })"
    )
    assert errors == []
    funnel, trend, groups = drawn
    assert funnel[0] == 1  # one referral sent this month (the world's)
    assert len(trend) == 12 and trend[-1] == 1
    assert groups is not None
    page.goto("/metrics/bounces")
    assert page.evaluate("Chart.getChart('bounce-chart') !== undefined")

    county = new_page()
    sign_in(county, "commissioner@test.test")
    county.goto("/county")
    assert county.locator("td.suppressed").count() > 0
    assert "District A" in county.content()
