"""Distances on the pages: the wizard's service step measures from the student's school by
default and keeps the distance filters in the URL; district admins set schools' locations
and provider admins their services' sites, refusals next to the field and nothing stored."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.browser.world import concern_for
from tests.directory_support import add_located_services
from tests.platform.test_ui_pages import TOKEN


def _rows(page: str) -> list[str]:
    """The service names of the result table, in order."""
    return re.findall(r"<tr><td>([^<]+)</td><td>Provider Alpha</td>", page)


def test_wizard_shows_miles_from_the_students_school(app, world, login_as):
    add_located_services(app, world)
    concern = concern_for(app, world, world.students_a[1])
    client = login_as("navigator@a.test")
    url = f"/refer/concern/{concern}"
    page = client.get(url)
    assert page.status_code == 200
    school = world.school_a.name
    assert f'<option selected value="{world.school_a.id}">{school}</option>' in page.text
    assert f"6.9 mi from {school}" in page.text and f"20.7 mi from {school}" in page.text
    assert "distance unknown" in page.text  # Unmapped clinic: a site with no coordinates
    assert "no site to travel to" in page.text  # Video visits: telehealth only
    assert _rows(page.text)[0] == "Video visits"  # shortest wait first, as before

    near = client.get(url, query_string={"within_miles": "10", "sort": "distance"}).text
    assert '<option selected value="10">10 miles</option>' in near
    assert "Far clinic" not in near and "Far hybrid" in near  # it offers telehealth
    assert _rows(near)[:2] == ["East clinic", "Near clinic"]
    assert "nearest first" in near

    unmeasured = client.get(url, query_string={"near_school_id": ""}).text
    assert " mi from " not in unmeasured and "Far clinic" in unmeasured


def test_wizard_refuses_distance_filters_it_does_not_offer(app, world, login_as):
    add_located_services(app, world)
    concern = concern_for(app, world, world.students_a[1])
    client = login_as("navigator@a.test")
    url = f"/refer/concern/{concern}"
    for query in (
        {"near_school_id": str(world.school_b.id)},  # another district's school
        {"near_school_id": "junk"},
        {"within_miles": "7"},
        {"sort": "cheapest"},
        {"max_wait": "soon"},
    ):
        page = client.get(url, query_string=query)
        assert page.status_code == 422, query
        assert "Not a valid choice" in page.text and world.school_b.name not in page.text
    no_school = client.get(url, query_string={"near_school_id": "", "within_miles": "5"})
    assert no_school.status_code == 422
    assert re.search(r'id="near_school_id-error"[^>]*>choose the school to measure', no_school.text)


def test_wizard_says_when_the_school_has_no_location(app, world, login_as):
    concern = concern_for(app, world, world.students_a[1])
    page = login_as("navigator@a.test").get(f"/refer/concern/{concern}").text
    assert f"{world.school_a.name} has no location yet" in page


def _school_location(owner_engine, school_id):
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT latitude, longitude FROM schools WHERE id = :i"), {"i": school_id}
        ).one()


def test_admin_sets_a_schools_location_with_field_messages(world, login_as, owner_engine):
    client = login_as("district_admin@a.test")
    page = client.get("/admin").text
    prefix = f"loc{world.school_a.id.hex[:8]}"
    url = f"/admin/schools/{world.school_a.id}/location"
    token = TOKEN.search(page).group(1)
    bad = client.post(
        url,
        data={
            f"{prefix}-latitude": "95",
            f"{prefix}-longitude": "-88",
            f"{prefix}-csrf_token": token,
        },
    )
    assert bad.status_code == 422
    assert re.search(
        rf'id="{prefix}-latitude-error"[^>]*>latitude must be a number from -90 to 90', bad.text
    )
    assert _school_location(owner_engine, world.school_a.id) == (None, None)
    good = client.post(
        url,
        data={
            f"{prefix}-latitude": "41.9",
            f"{prefix}-longitude": "-88.0",
            f"{prefix}-csrf_token": token,
        },
    )
    assert good.status_code == 302
    assert _school_location(owner_engine, world.school_a.id) == (41.9, -88.0)
    assert 'value="41.9"' in client.get("/admin").text

    half = client.post(
        "/admin/schools",
        data={
            "school-name": "Half School",
            "school-code": "HALF",
            "school-latitude": "41.9",
            "school-csrf_token": token,
        },
    )
    assert half.status_code == 422
    assert re.search(
        r'id="school-longitude-error"[^>]*>give both latitude and longitude', half.text
    )
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM schools WHERE code = 'HALF'")).scalar() == 0


def test_provider_admin_keeps_its_services_sites(app, world, login_as, owner_engine):
    sites = add_located_services(app, world)
    assert login_as("intake@pa.test").get("/provider/services").status_code == 403
    client = login_as("provider_admin@pa.test")
    page = client.get("/provider/services").text
    assert "Near clinic" in page and 'value="1 North St"' in page
    prefix = f"s{sites.near_clinic.hex[:8]}"
    fields = {
        f"{prefix}-service_id": str(sites.near_clinic),
        f"{prefix}-site_address": "5 Moved St",
        f"{prefix}-latitude": "41.95",
        f"{prefix}-longitude": "-200",
        f"{prefix}-csrf_token": TOKEN.search(page).group(1),
    }
    bad = client.post("/provider/services/site", data=fields)
    assert bad.status_code == 422
    assert re.search(rf'id="{prefix}-longitude-error"[^>]*>longitude must be a number', bad.text)

    def stored():
        with owner_engine.connect() as conn:
            return conn.execute(
                text("SELECT site_address, latitude, longitude FROM services WHERE id = :i"),
                {"i": sites.near_clinic},
            ).one()

    assert stored() == ("1 North St", 42.0, -88.0)
    good = client.post("/provider/services/site", data=fields | {f"{prefix}-longitude": "-88.01"})
    assert good.status_code == 302
    assert stored() == ("5 Moved St", 41.95, -88.01)
    stranger = fields | {f"{prefix}-service_id": "00000000-0000-0000-0000-000000000000"}
    assert client.post("/provider/services/site", data=stranger).status_code == 404
