"""Demo data: one county, three districts, six schools, three providers, every role, students.

Deterministic (seeded random) and idempotent: running it twice adds nothing the second time.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select

from baton.platform.extensions import db
from baton.platform.models import Caregiver, School, Student, Tenant
from baton.platform.models.students import GRADES
from baton.platform.permissions import ROLE_LABELS
from baton.platform.seed_followups import run_clock_once, seed_crises
from baton.platform.seed_metrics import seed_governance
from baton.platform.seed_referrals import seed_referrals
from baton.platform.services import provisioning as prov

# Demo data only: seeding refuses to run in production.
DEMO_PASSWORD = "baton-demo-password"  # noqa: S105

# Made-up places around one (fictional) county near 41.9N, 88.0W, so the wizard shows
# distances: schools as (name, code, latitude, longitude).
DISTRICTS = [
    (
        "North Lake School District",
        "north-lake",
        [("North Lake High", "NLH", 41.9621, -88.0153), ("Birch Middle", "BMS", 41.9484, -87.9912)],
    ),
    (
        "River Valley Schools",
        "river-valley",
        [("Valley Elementary", "VES", 41.8733, -88.0921), ("River High", "RHS", 41.8612, -88.0608)],
    ),
    (
        "East Prairie USD",
        "east-prairie",
        [
            ("Prairie Middle", "PMS", 41.9052, -87.9347),
            ("Eastside Elementary", "EES", 41.9181, -87.9116),
        ],
    ),
]
PROVIDERS = [
    ("Harbor Behavioral Health", "harbor", "fhir", "https://ehr.harbor.example/fhir"),
    ("Lakeside Family Counseling", "lakeside", "portal", None),
    ("Prairie Youth Services", "prairie-youth", "phone", "+1-555-0100"),
]
# Each provider's two sites: (address, latitude, longitude) for its assessment and counseling.
SITES = {
    "harbor": (
        ("1200 Harbor Way, Lakeport", 41.9302, -87.9684),
        ("310 Mill St, River Valley", 41.8689, -88.0745),
    ),
    "lakeside": (
        ("45 Shore Rd, North Lake", 41.9755, -88.0302),
        ("45 Shore Rd, North Lake", 41.9755, -88.0302),
    ),
    "prairie-youth": (
        ("800 Prairie Ave, East Prairie", 41.8971, -87.9050),
        ("22 Elm Ct, Birchwood", 41.9416, -87.9588),
    ),
}
PARTNERS = {
    "north-lake": ["harbor", "lakeside", "prairie-youth"],
    "river-valley": ["harbor", "lakeside"],
    "east-prairie": ["lakeside", "prairie-youth"],
}
DISTRICT_ROLES = ["referrer", "navigator", "escalation_lead", "district_admin", "auditor"]

FIRST = [
    "Ava",
    "Mateo",
    "Linh",
    "Hodan",
    "Noah",
    "Sofia",
    "Omar",
    "Mia",
    "Diego",
    "Amina",
    "Ethan",
    "Camila",
    "Bao",
    "Zainab",
    "Liam",
    "Valentina",
    "Yusuf",
    "Chloe",
    "Khanh",
    "Isaiah",
]
LAST = [
    "Garcia",
    "Nguyen",
    "Smith",
    "Hassan",
    "Johnson",
    "Martinez",
    "Tran",
    "Ali",
    "Brown",
    "Lopez",
    "Warsame",
    "Davis",
    "Hernandez",
    "Pham",
    "Wilson",
    "Rodriguez",
    "Mohamed",
    "Lee",
]
LANGUAGES = ["en"] * 6 + ["es"] * 3 + ["vi", "so"]


def seed(student_count: int = 300) -> list[tuple[str, str]]:
    """Create the demo world; returns (e-mail, description) of every demo login."""
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    county, _ = prov.create_county("Lake County", "lake-county")
    providers = {
        slug: _provider(name, slug, route, contact) for name, slug, route, contact in PROVIDERS
    }
    logins = []
    for name, slug, schools in DISTRICTS:
        tenant, _ = prov.create_tenant(name, slug, county.slug)
        for school_name, code, latitude, longitude in schools:
            prov.create_school(tenant, school_name, code, latitude=latitude, longitude=longitude)
        for provider_slug in PARTNERS[slug]:
            prov.create_partnership(
                tenant,
                providers[provider_slug],
                start=date(2025, 8, 1),
                data_sharing_signed=date(2025, 7, 15),
            )
        for role in DISTRICT_ROLES:
            email = f"{role.replace('_', '.')}@{slug}.demo"
            prov.create_user(
                email, f"{ROLE_LABELS[role]} ({name})", DEMO_PASSWORD, role, tenant=tenant
            )
            logins.append((email, f"{ROLE_LABELS[role]}, {name}"))
    for slug, provider in providers.items():
        email = f"intake@{slug}.demo"
        prov.create_user(
            email, f"Intake, {provider.name}", DEMO_PASSWORD, "provider_intake", provider=provider
        )
        logins.append((email, f"Provider intake staff, {provider.name}"))
    harbor = providers["harbor"]  # the FHIR-route provider registers its EHR's clients itself
    prov.create_user(
        "admin@harbor.demo",
        f"Admin, {harbor.name}",
        DEMO_PASSWORD,
        "provider_admin",
        provider=harbor,
    )
    logins.append(
        (
            "admin@harbor.demo",
            f"Provider admin (API and FHIR clients, service sites), {harbor.name}",
        )
    )
    prov.create_user(
        "commissioner@lake-county.demo",
        "Lake County Commissioner",
        DEMO_PASSWORD,
        "commissioner",
        county=county,
    )
    logins.append(("commissioner@lake-county.demo", "County commissioner, Lake County"))
    _students(rng, student_count)
    seed_referrals(rng)
    seed_governance(rng)  # escalations, crises, then the rollups: the dashboards show figures
    seed_crises()
    run_clock_once()  # automatic escalations and bounce decisions, as the cron sweep makes them
    return logins


def _provider(name, slug, route, contact):
    provider, _ = prov.create_provider(name, slug, phone="+1-555-0100")
    assessment_site, counseling_site = (
        {"site_address": a, "latitude": lat, "longitude": lon} for a, lat, lon in SITES[slug]
    )
    prov.create_service(
        provider,
        f"{name}: youth assessment",
        service_type="bh-assessment",
        languages=["en", "es"],
        modalities=["in-person", "telehealth"],
        insurance_accepted=["medicaid", "chip", "private"],
        capacity=40,
        current_wait_days=5,
        intake_route=route,
        intake_contact=contact,
        **assessment_site,
    )
    prov.create_service(
        provider,
        f"{name}: counseling",
        service_type="bh-counseling",
        languages=["en"] + (["vi", "so"] if slug == "lakeside" else []),
        modalities=["in-person", "on-campus"],
        insurance_accepted=["medicaid"],
        capacity=25,
        current_wait_days=12,
        intake_route=route,
        intake_contact=contact,
        **counseling_site,
    )
    return provider


def _students(rng: random.Random, total: int) -> None:
    tenants = db.session.scalars(
        select(Tenant)
        .where(Tenant.slug.in_([slug for _, slug, _ in DISTRICTS]))
        .order_by(Tenant.slug)
    ).all()
    for index, tenant in enumerate(tenants):
        wanted = total // len(tenants) + (1 if index < total % len(tenants) else 0)
        have = db.session.scalar(
            select(func.count()).select_from(Student).where(Student.tenant_id == tenant.id)
        )
        schools = db.session.scalars(
            select(School).where(School.tenant_id == tenant.id).order_by(School.code)
        ).all()
        for n in range(have, wanted):
            _student(rng, tenant, schools, n)
        db.session.flush()


def _student(rng: random.Random, tenant: Tenant, schools: list[School], n: int) -> None:
    language = rng.choice(LANGUAGES)
    grade = rng.choice(GRADES[1:])
    age = 5 + GRADES.index(grade) - 1
    last = rng.choice(LAST)
    student = Student(
        tenant_id=tenant.id,
        local_id=f"{tenant.slug[:2].upper()}{100000 + n}",
        first_name=rng.choice(FIRST),
        last_name=last,
        birth_date=date(2026 - age, 9, 1) - timedelta(days=rng.randrange(365)),
        grade=grade,
        school_id=rng.choice(schools).id,
        preferred_language=language,
        disability_or_iep=rng.random() < 0.15,
    )
    db.session.add(student)
    db.session.flush()
    unsafe = rng.random() < 0.08
    db.session.add(
        Caregiver(
            tenant_id=tenant.id,
            student_id=student.id,
            name=f"{rng.choice(FIRST)} {last}",
            relationship_to_student=rng.choice(["parent", "parent", "guardian", "grandparent"]),
            phone=f"+1-555-{rng.randrange(1000, 9999)}",
            email=None if rng.random() < 0.3 else f"family{n}@{tenant.slug}.example",
            preferred_language=language,
            allowed_channels=["letter", "in-person"] if unsafe else ["phone", "sms", "email"],
            safe_times=rng.choice([None, "weekdays after 5pm", "mornings before 8am"]),
            do_not_call=unsafe,
            no_voicemail=unsafe or rng.random() < 0.2,
        )
    )
