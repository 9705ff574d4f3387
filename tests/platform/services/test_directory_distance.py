"""The directory's distance from a school: haversine miles from known points, the "within"
limit (families need not travel for telehealth or on-campus), nearest-first ordering, and
locations that are not real points refused per field with nothing stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from baton.platform.errors import Forbidden, InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import School, Service
from baton.platform.services import district_admin, providers
from baton.platform.services import provisioning as prov
from baton.platform.services.locations import miles_between
from baton.tenants.context import acting_as, system_scope
from tests.directory_support import SCHOOL, add_located_services
from tests.factories import principal_of


def _search(world, **filters) -> list[dict]:
    with acting_as(principal_of("navigator@a.test")):
        return providers.search_services(near_school_id=world.school_a.id, **filters)


def _miles(results) -> dict[str, float | None]:
    return {r["name"]: r["distance_miles"] for r in results}


def test_haversine_matches_hand_computed_miles():
    assert miles_between(SCHOOL, (42.0, -88.0)) == pytest.approx(6.909, abs=0.001)
    assert miles_between(SCHOOL, (41.9, -87.9)) == pytest.approx(5.143, abs=0.001)
    assert miles_between((0.0, 0.0), (0.0, 180.0)) == pytest.approx(12_436.9, abs=0.1)
    assert miles_between(SCHOOL, SCHOOL) == 0


def test_results_carry_miles_from_the_school(app, world):
    add_located_services(app, world)
    with app.app_context():
        found = _search(world)
    assert _miles(found) == {
        "Video visits": None,  # telehealth: no site
        "Far clinic": 20.7,
        "Far hybrid": 41.5,
        "Unmapped clinic": None,  # a site without coordinates: distance unknown
        "East clinic": 5.1,
        "Near clinic": 6.9,
    }
    assert [r["name"] for r in found][:2] == ["Video visits", "Far clinic"]  # still by wait


def test_within_drops_only_services_known_to_be_farther(app, world):
    add_located_services(app, world)
    with app.app_context():
        within_10 = _miles(_search(world, within_miles=10))
        in_person = _miles(_search(world, within_miles=10, modality="in-person"))
        telehealth = _miles(_search(world, within_miles=10, modality="telehealth"))
    # Far clinic (20.7 mi) goes; Far hybrid stays, a family can use its video visits.
    assert set(within_10) == {
        "Near clinic",
        "East clinic",
        "Far hybrid",
        "Video visits",
        "Unmapped clinic",
    }
    # Asked for in-person care, the hybrid's 41.5 mi counts.
    assert set(in_person) == {"Near clinic", "East clinic", "Unmapped clinic"}
    assert set(telehealth) == {"Far hybrid", "Video visits"}
    with app.app_context():
        assert set(_miles(_search(world, within_miles=5))) == {
            "Far hybrid",
            "Video visits",
            "Unmapped clinic",
        }


def test_nearest_first_puts_unknown_distances_last_by_wait(app, world):
    add_located_services(app, world)
    with app.app_context():
        found = _search(world, sort="distance")
    assert [r["name"] for r in found] == [
        "East clinic",
        "Near clinic",
        "Far clinic",
        "Far hybrid",
        "Video visits",  # 1-day wait
        "Unmapped clinic",  # 5-day wait
    ]


def test_a_school_without_a_location_gives_unknown_distances(app, world):
    add_located_services(app, world)
    with app.app_context():
        with acting_as(principal_of("district_admin@a.test")):
            district_admin.set_school_location(world.school_a.id)  # cleared
        found = _search(world, within_miles=5)
    assert len(found) == 6 and {r["distance_miles"] for r in found} == {None}


def test_distance_needs_a_school_of_the_callers_district(app, world):
    add_located_services(app, world)
    with app.app_context(), acting_as(principal_of("navigator@a.test")):
        with pytest.raises(InvalidInput) as foreign:
            providers.search_services(near_school_id=world.school_b.id)
        with pytest.raises(InvalidInput) as no_school:
            providers.search_services(within_miles=10)
        with pytest.raises(InvalidInput) as bad_limit:
            providers.search_services(near_school_id=world.school_a.id, within_miles=0)
        with pytest.raises(InvalidInput) as bad_sort:
            providers.search_services(sort="cheapest")
    assert foreign.value.fields == {"near_school_id": "no such school in your district"}
    assert set(no_school.value.fields) == {"near_school_id"}
    assert set(bad_limit.value.fields) == {"within_miles"}
    assert set(bad_sort.value.fields) == {"sort"}


BAD_POINTS = [
    ({"latitude": 91, "longitude": -88}, {"latitude": "latitude must be a number from -90 to 90"}),
    (
        {"latitude": 41.9, "longitude": -180.5},
        {"longitude": "longitude must be a number from -180 to 180"},
    ),
    ({"latitude": 41.9}, {"longitude": "give both latitude and longitude, or neither"}),
    (
        {"latitude": "", "longitude": "-88"},
        {"latitude": "give both latitude and longitude, or neither"},
    ),
    (
        {"latitude": "north", "longitude": "nan"},
        {
            "latitude": "latitude must be a number from -90 to 90",
            "longitude": "longitude must be a number from -180 to 180",
        },
    ),
]


def _stored(owner_engine, sql: str, **params):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).all()


@pytest.mark.parametrize(("point", "messages"), BAD_POINTS)
def test_a_school_location_that_is_not_a_point_is_refused(
    app, world, owner_engine, point, messages
):
    with app.app_context(), acting_as(principal_of("district_admin@a.test")):
        with pytest.raises(InvalidInput) as moved:
            district_admin.set_school_location(world.school_a.id, **point)
        with pytest.raises(InvalidInput) as added:
            district_admin.add_school(name="New school", code="NEW", **point)
        db.session.commit()
    assert moved.value.fields == messages and added.value.fields == messages
    assert _stored(
        owner_engine, "SELECT latitude, longitude FROM schools WHERE id = :i", i=world.school_a.id
    ) == [(None, None)]
    assert _stored(owner_engine, "SELECT id FROM schools WHERE code = 'NEW'") == []
    assert _stored(owner_engine, "SELECT action FROM audit_log WHERE object_type = 'school'") == []


@pytest.mark.parametrize(("point", "messages"), BAD_POINTS)
def test_a_service_site_that_is_not_a_point_is_refused(app, world, owner_engine, point, messages):
    sites = add_located_services(app, world)
    with app.app_context(), acting_as(principal_of("provider_admin@pa.test")):
        with pytest.raises(InvalidInput) as refused:
            providers.set_service_site(sites.near_clinic, site_address="2 New St", **point)
        db.session.commit()
    assert refused.value.fields == messages
    rows = _stored(
        owner_engine,
        "SELECT site_address, latitude, longitude FROM services WHERE id = :i",
        i=sites.near_clinic,
    )
    assert rows == [("1 North St", 42.0, -88.0)]
    with app.app_context(), system_scope("test: provisioning refuses too"):
        with pytest.raises(InvalidInput) as provisioned:
            prov.create_service(
                prov.provider_by_slug("pa"),
                "Bad site",
                service_type="bh-counseling",
                intake_route="portal",
                **point,
            )
        assert provisioned.value.fields == messages
        assert db.session.scalars(select(Service).where(Service.name == "Bad site")).all() == []


def test_locations_are_set_cleared_and_audited(app, world, owner_engine):
    sites = add_located_services(app, world)
    with app.app_context():
        with acting_as(principal_of("provider_admin@pa.test")):
            providers.set_service_site(sites.near_clinic)  # now telehealth-like: no site
        with acting_as(principal_of("district_admin@a.test")):
            district_admin.add_school(
                name="Hill School", code="HILL", latitude=" 41.95 ", longitude="-88.05"
            )
        db.session.commit()
    assert _stored(
        owner_engine,
        "SELECT site_address, latitude FROM services WHERE id = :i",
        i=sites.near_clinic,
    ) == [(None, None)]
    assert _stored(owner_engine, "SELECT latitude, longitude FROM schools WHERE code = 'HILL'") == [
        (41.95, -88.05)
    ]
    audited = _stored(owner_engine, "SELECT object_type, action FROM audit_log ORDER BY at")
    assert ("service", "update") in audited and ("school", "create") in audited


def test_only_the_services_provider_admin_sets_its_site(app, world):
    sites = add_located_services(app, world)
    with app.app_context():
        with acting_as(principal_of("provider_admin@pa.test")):
            with system_scope("test: a service of Provider Beta"):
                beta, _ = prov.create_service(
                    prov.provider_by_slug("pb"),
                    "Beta clinic",
                    service_type="bh-counseling",
                    intake_route="portal",
                )
            with pytest.raises(NotFound):
                providers.set_service_site(beta.id, latitude=1, longitude=1)
        with acting_as(principal_of("intake@pa.test")), pytest.raises(Forbidden):
            providers.set_service_site(sites.near_clinic, latitude=1, longitude=1)
        with acting_as(principal_of("district_admin@a.test")), pytest.raises(NotFound):
            district_admin.set_school_location(world.school_b.id, latitude=1, longitude=1)


def test_the_database_refuses_a_half_point_too(app, world, owner_engine):
    """The check constraints are the second lock behind the service layer."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE schools SET latitude = 41.9 WHERE id = :i"), {"i": world.school_a.id}
        )
    with pytest.raises(IntegrityError), owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE schools SET latitude = 95, longitude = 0 WHERE id = :i"),
            {"i": world.school_a.id},
        )
    with app.app_context(), system_scope("test: read back"):
        school = db.session.get(School, (world.tenant_a.id, world.school_a.id))
        assert (school.latitude, school.longitude) == (None, None)
