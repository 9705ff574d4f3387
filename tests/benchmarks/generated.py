"""SQL that fills a benchmark database with a generated world, as its owner: ids are md5s of
numbers, so rows find each other, and FK triggers are off while generating (the ids are
consistent by construction). District ``t`` is ``md5('t'||t)``, its county ``t % counties``,
school ``k`` of it ``md5('s'||t||'-'||k)``, student ``s`` of district ``s % districts``."""

from __future__ import annotations

GRADES = ("PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")


def array(values) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def skeleton(
    *, counties: int, districts: int, schools: int, providers: int, students: int, languages
) -> list[str]:
    """Counties, districts, their schools, providers and students (the referrals' parties)."""
    C, D, K, P, S = counties, districts, schools, providers, students
    return [
        "SET session_replication_role = replica",
        "INSERT INTO counties (id, name, slug, suppression_threshold, created_at)"
        " SELECT md5('c'||c)::uuid, 'County '||c, 'county-'||c, 11, now()"
        f" FROM generate_series(0, {C} - 1) c",
        "INSERT INTO tenants (id, county_id, name, slug, timezone, active, created_at)"
        f" SELECT md5('t'||t)::uuid, md5('c'||(t % {C}))::uuid, 'District '||t, 'district-'||t,"
        f" 'America/Chicago', true, now() FROM generate_series(0, {D} - 1) t",
        "INSERT INTO schools (tenant_id, id, name, code, created_at)"
        " SELECT md5('t'||t)::uuid, md5('s'||t||'-'||k)::uuid, 'School '||k, 'S'||k, now()"
        f" FROM generate_series(0, {D} - 1) t, generate_series(0, {K} - 1) k",
        "INSERT INTO provider_orgs (id, name, slug, active, created_at)"
        " SELECT md5('p'||p)::uuid, 'Provider '||p, 'provider-'||p, true, now()"
        f" FROM generate_series(0, {P} - 1) p",
        "INSERT INTO students (tenant_id, id, local_id, first_name, last_name, birth_date, grade,"
        " school_id, preferred_language, disability_or_iep, created_at, updated_at)"
        f" SELECT md5('t'||(s % {D}))::uuid, md5('st'||s)::uuid, 'L'||s, 'Stu', 'Dent',"
        f" date '2012-01-01', ({array(GRADES)})[1 + (s / 7) % {len(GRADES)}],"
        f" md5('s'||(s % {D})||'-'||((s / {D}) % {K}))::uuid,"
        f" ({array(languages)})[1 + (s / 3) % {len(languages)}], s % 7 = 0, now(), now()"
        f" FROM generate_series(0, {S} - 1) s",
    ]
