"""Provider Alpha's services at known places around district A's school, for the distance
tests. Expected miles are worked out by hand: one degree of latitude is 2πR/360 with
R = 3958.8 mi, i.e. 69.094 mi, so 0.1° = 6.9 mi; 0.1° of longitude at 41.9°N is
6.909 × cos 41.9° = 5.14 mi."""

from __future__ import annotations

from types import SimpleNamespace

from baton.platform.extensions import db
from baton.platform.services import district_admin
from baton.platform.services import provisioning as prov
from baton.tenants.context import acting_as, system_scope
from tests.factories import principal_of

SCHOOL = (41.9, -88.0)
# name: (modalities, wait days, site or None)
SERVICES = {
    "Near clinic": (["in-person"], 10, ("1 North St", 42.0, -88.0)),  # 6.9 mi north
    "East clinic": (["in-person"], 8, ("9 East Rd", 41.9, -87.9)),  # 5.1 mi east
    "Far clinic": (["in-person"], 2, ("50 Far Ave", 42.2, -88.0)),  # 20.7 mi
    "Far hybrid": (["in-person", "telehealth"], 3, ("70 Far Ave", 42.5, -88.0)),  # 41.5 mi
    "Video visits": (["telehealth"], 1, None),
    "Unmapped clinic": (["in-person"], 5, ("somewhere", None, None)),
}


def add_located_services(app, world) -> SimpleNamespace:
    """District A's school at SCHOOL and Provider Alpha's SERVICES; their ids by name."""
    ids = {}
    with app.app_context():
        with acting_as(principal_of("district_admin@a.test")):
            district_admin.set_school_location(
                world.school_a.id, latitude=SCHOOL[0], longitude=SCHOOL[1]
            )
        with system_scope("test: located services"):
            alpha = prov.provider_by_slug("pa")
            for name, (modalities, wait, site) in SERVICES.items():
                address, latitude, longitude = site or (None, None, None)
                service, _ = prov.create_service(
                    alpha,
                    name,
                    service_type="bh-counseling",
                    languages=["en"],
                    modalities=modalities,
                    insurance_accepted=["medicaid"],
                    current_wait_days=wait,
                    intake_route="portal",
                    site_address=address,
                    latitude=latitude,
                    longitude=longitude,
                )
                ids[name] = service.id
        db.session.commit()
    return SimpleNamespace(**{name.replace(" ", "_").lower(): i for name, i in ids.items()})
