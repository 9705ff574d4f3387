"""The metrics pages and API end to end through the app: who reaches them, what they show,
and clear answers to bad input. Figures come from the world's referrals rolled up by the job."""

from __future__ import annotations

import csv
import io

import pytest

from baton.platform.metrics.periods import Month
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services.rollups import SAFETY_LAG
from baton.workers.jobs.rollups import roll_up_new_events


@pytest.fixture
def rolled(app, world):
    """The world's referrals rolled up, as the worker would once the safety lag has passed."""
    with app.app_context(), travel_to(utcnow() + 2 * SAFETY_LAG):
        roll_up_new_events()
    return world


def test_dashboard_shows_this_months_figures_and_charts(rolled, login_as):
    page = login_as("district_admin@a.test").get("/metrics?breakdown=school")
    assert page.status_code == 200
    assert 'data-metric="referrals"' in page.text
    assert "vendor/chartjs/chart.umd.min.js" in page.text and 'id="funnel-chart"' in page.text
    assert "School-A-Marker" in page.text  # the district's own school as a group
    card = page.text.split('data-metric="referrals"')[1].split("</div>")[0]
    assert '<strong class="value">1</strong>' in card  # world: one referral sent, this month


@pytest.mark.parametrize("role", ["district_admin", "auditor"])
def test_every_metrics_page_answers_for_metric_readers(rolled, login_as, role):
    client = login_as(f"{role}@a.test")
    for url in ("/metrics", "/metrics/bounces", "/metrics/governance", "/metrics/audits"):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ["referrer", "navigator", "escalation_lead"])
def test_other_roles_are_refused(rolled, login_as, role):
    client = login_as(f"{role}@a.test")
    assert client.get("/metrics").status_code == 403
    assert client.get("/api/v1/metrics").status_code == 403


def test_bad_month_and_breakdown_answer_422(rolled, login_as, api_as):
    client = login_as("district_admin@a.test")
    assert client.get("/metrics?month=2026-13").status_code == 422
    assert client.get("/metrics?breakdown=postcode").status_code == 422
    api = api_as("district_admin@a.test")
    bad = api.get("/api/v1/metrics?month=September")
    assert bad.status_code == 422
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert "month" in bad.json["errors"]


def test_governance_pack_prints_and_exports_csv(rolled, login_as):
    client = login_as("auditor@a.test")
    month = Month.parse(None, utcnow().date()).label  # the month holding this week
    page = client.get(f"/metrics/governance?month={month}")
    assert "Monthly governance pack" in page.text and "download it as CSV" in page.text
    exported = client.get(f"/metrics/governance.csv?month={month}")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    sent = next(r for r in rows if r["group"] == "All referrals" and r["key"] == "referrals")
    assert sent["this_month"] == "1"


def test_district_api_returns_the_same_figures(rolled, api_as):
    body = api_as("district_admin@a.test").get("/api/v1/metrics?breakdown=tier").json
    assert body["overall"]["referrals"]["value"] == 1
    assert [g["group"] for g in body["groups"] if g["values"]["referrals"]["value"]] == ["Tier B"]


def test_audit_sample_draw_form_refuses_bad_input_and_draws(rolled, login_as):
    from tests.conftest import csrf_token

    client = login_as("auditor@a.test")
    token = csrf_token(client.get("/metrics/audits").text)
    bad = client.post("/metrics/audits", data={"csrf_token": token, "quarter": "Q3", "size": "5"})
    assert bad.status_code == 422 and "a quarter such as" in bad.text
    quarter = f"{utcnow().year}-Q{(utcnow().month - 1) // 3 + 1}"
    drawn = client.post(
        "/metrics/audits", data={"csrf_token": token, "quarter": quarter, "size": "12", "seed": "5"}
    )
    assert drawn.status_code == 302
    assert "Seed 5" in client.get(drawn.headers["Location"]).text


def test_county_view_and_api_for_the_commissioner_only(rolled, login_as, api_as):
    page = login_as("commissioner@test.test").get("/county?breakdown=district")
    assert page.status_code == 200
    assert "District A" in page.text and "suppressed" in page.text
    body = api_as("commissioner@test.test").get("/api/v1/county/figures?breakdown=tier").json
    assert body["suppression_threshold"] == 11
    funnel = body["tables"]["funnel"]
    # Two referrals in the county this month (one per district): every count is small.
    assert funnel["total"] is None
    assert all(v in (None, 0) for row in funnel["rows"] for v in row["cells"].values())
    refused = api_as("district_admin@a.test").get("/api/v1/county/figures")
    assert refused.status_code == 403
    assert api_as("commissioner@test.test").get("/api/v1/metrics").status_code == 403
    bad = api_as("commissioner@test.test").get("/api/v1/county/figures?breakdown=school")
    assert bad.status_code == 422


def test_chart_library_is_served_locally(client):
    response = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert response.status_code == 200 and b"Chart.js v4" in response.data[:200]
    response.close()
