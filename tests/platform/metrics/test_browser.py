"""The dashboards in a real browser (Debian's Chromium through Playwright): the locally served
Chart.js draws every chart from the page's figures, and the county page shows suppression."""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from baton.platform.models.base import travel_to, utcnow
from baton.platform.services.rollups import SAFETY_LAG
from baton.workers.jobs.rollups import roll_up_new_events
from tests.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live_server(app, world):
    with app.app_context(), travel_to(utcnow() + 2 * SAFETY_LAG + timedelta(seconds=1)):
        roll_up_new_events()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _sign_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_dashboard_charts_draw_and_county_page_suppresses(live_server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _sign_in(page, live_server, "district_admin@a.test")
            page.goto(f"{live_server}/metrics")
            drawn = page.evaluate(
                "['funnel-chart', 'trend-chart', 'groups-chart'].map(id => {"
                " const c = Chart.getChart(id); return c ? c.data.datasets[0].data : null; })"
            )
            assert errors == []
            funnel, trend, groups = drawn
            assert funnel[0] == 1  # one referral sent this month (the world's)
            assert len(trend) == 12 and trend[-1] == 1
            assert groups is not None
            page.goto(f"{live_server}/metrics/bounces")
            assert page.evaluate("Chart.getChart('bounce-chart') !== undefined")

            county = browser.new_page()
            _sign_in(county, live_server, "commissioner@test.test")
            county.goto(f"{live_server}/county")
            assert county.locator("td.suppressed").count() > 0
            assert "District A" in county.content()
        finally:
            browser.close()
