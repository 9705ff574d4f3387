"""GET /api/v1/directory/services with a school to measure from: miles on each service,
the within limit, nearest first; filters it cannot honour are problem+json 422, never 500."""

from __future__ import annotations

import pytest

from tests.directory_support import add_located_services

URL = "/api/v1/directory/services"


def test_directory_measures_from_a_school(app, world, api_as):
    add_located_services(app, world)
    api = api_as("navigator@a.test")
    query = {"near_school_id": str(world.school_a.id), "within_miles": 10, "sort": "distance"}
    found = api.get(URL, query_string=query)
    assert found.status_code == 200
    assert [(s["name"], s["distance_miles"]) for s in found.json] == [
        ("East clinic", 5.1),
        ("Near clinic", 6.9),
        ("Far hybrid", 41.5),  # offers telehealth: not limited by distance
        ("Video visits", None),
        ("Unmapped clinic", None),
    ]
    near = found.json[1]
    assert (near["site_address"], near["latitude"], near["longitude"]) == (
        "1 North St",
        42.0,
        -88.0,
    )
    plain = api.get(URL).json
    assert {s["distance_miles"] for s in plain} == {None} and len(plain) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"within_miles": 10}, "near_school_id"),
        ({"sort": "distance"}, "near_school_id"),
        ({"near_school_id": "school-a"}, "near_school_id"),
        ({"near_school_id": "B"}, "near_school_id"),  # district B's school, below
        ({"near_school_id": "A", "within_miles": 0}, "within_miles"),
        ({"near_school_id": "A", "within_miles": "nan"}, "within_miles"),
        ({"near_school_id": "A", "within_miles": 501}, "within_miles"),
        ({"near_school_id": "A", "sort": "cheapest"}, "sort"),
    ],
)
def test_distance_filters_it_cannot_honour_are_422(app, world, api_as, query, field):
    add_located_services(app, world)
    schools = {"A": str(world.school_a.id), "B": str(world.school_b.id)}
    query = {k: schools.get(v, v) if k == "near_school_id" else v for k, v in query.items()}
    refused = api_as("navigator@a.test").get(URL, query_string=query)
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert field in refused.json["errors"], refused.json
    assert world.school_b.name not in refused.text


def test_admin_sets_a_schools_location_through_the_api(world, api_as, owner_engine):
    from sqlalchemy import text

    admin = api_as("district_admin@a.test")
    url = f"/api/v1/schools/{world.school_a.id}/location"
    refusals = [
        ({"latitude": 95, "longitude": -88}, "latitude"),
        ({"latitude": 41.9, "longitude": None}, "longitude"),
        ({"latitude": 41.9}, "longitude"),  # both keys are required
        ({"latitude": "north", "longitude": -88}, "latitude"),
    ]
    for body, field in refusals:
        refused = admin.post(url, json=body)
        assert refused.status_code == 422, body
        assert refused.mimetype == "application/problem+json"
        assert field in refused.json["errors"], refused.json
    assert admin.post(url, json={"latitude": 95, "longitude": -88}).json["errors"] == {
        "latitude": "latitude must be a number from -90 to 90"
    }
    with owner_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT latitude, longitude FROM schools WHERE id = :i"), {"i": world.school_a.id}
        ).one()
    assert stored == (None, None)

    saved = admin.post(url, json={"latitude": 41.9, "longitude": -88.0})
    assert saved.status_code == 200 and saved.json["latitude"] == 41.9
    navigator = api_as("navigator@a.test")
    assert navigator.post(url, json={"latitude": 1, "longitude": 1}).status_code == 403
    listed = navigator.get("/api/v1/schools").json
    assert [(s["name"], s["latitude"], s["longitude"]) for s in listed] == [
        (world.school_a.name, 41.9, -88.0)
    ]
    cleared = admin.post(url, json={"latitude": None, "longitude": None})
    assert cleared.status_code == 200 and cleared.json["longitude"] is None
