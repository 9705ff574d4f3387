"""Rollup throughput: the incremental path over N status events against one SQL GROUP BY.

``make bench`` (or ``pytest -s tests/benchmarks/test_bench_rollups.py``): a throwaway
PostgreSQL database, migrated; N events (``BENCH_ROLLUP_EVENTS``, default 5,000,000) made in
SQL by the owner with generate_series: 50 districts in 5 counties, 5 schools each, 20
providers, 100,000 students, N/10 referrals of ten status events each, spread over a year.
Then, as the RLS-bound app role in a system scope, as the worker would:

1. incremental: what ``roll_up_new_events`` does, batch after batch of
   ``BENCH_ROLLUP_BATCH`` events (default 100,000, the job's default), each batch its own
   transaction (district upsert + watermark, then the county rows of the weeks it touched),
   until every event is counted;
2. baseline: a single ``INSERT ... SELECT ... GROUP BY`` over the same events, same joins,
   same grouping, into a temporary table; and the same GROUP BY only counted (no writes);
3. the rollups emptied, then all N events in one incremental run: the rollups' own write
   path (upsert into the keyed, logged table) without the batching.

It prints events/s for each and the incremental rate as a fraction of the baseline's; it
never asserts on the figures, only that both produced the same rows (otherwise the figures
would mean nothing).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from baton.platform.app import create_app
from baton.platform.extensions import db
from baton.platform.models.base import travel_to
from baton.platform.services import rollups
from baton.tenants.context import system_scope
from tests.benchmarks.generated import array, skeleton
from tests.conftest import base_config, create_database, drop_database, migrate_database

EVENTS = int(os.environ.get("BENCH_ROLLUP_EVENTS", "5000000"))
BATCH = int(os.environ.get("BENCH_ROLLUP_BATCH", "100000"))
DISTRICTS, COUNTIES, SCHOOLS, PROVIDERS, STUDENTS = 50, 5, 5, 20, 100_000
START = datetime(2025, 8, 18, tzinfo=UTC)
LATER = datetime(2027, 1, 1, tzinfo=UTC)  # every generated event is past the safety lag
STATUSES = (
    "sent",
    "received",
    "accepted",
    "scheduled",
    "first-appointment-attended",
    "engaged",
    "scheduled",
    "engaged",
    "disengaged",
    "closed-completed",
)
LANGUAGES = ("en", "en", "en", "en", "en", "es", "es", "es", "vi", "zh", "ar", "so")


def _generate(owner_url: str, events: int) -> None:
    """Every row in bulk, as the owner; ids are md5s of numbers, so rows find each other.
    FK triggers are off while generating (the ids are consistent by construction)."""
    referrals = max(1, events // 10)
    D, C, K, P, S = DISTRICTS, COUNTIES, SCHOOLS, PROVIDERS, STUDENTS
    statements = [
        *skeleton(counties=C, districts=D, schools=K, providers=P, students=S, languages=LANGUAGES),
        "INSERT INTO referrals (tenant_id, id, student_id, provider_id, status, tier, high_need,"
        " intake_route, caregiver_present, created_at, updated_at, ever_scheduled, event_count,"
        " version)"
        f" SELECT md5('t'||((r % {S}) % {D}))::uuid, md5('r'||r)::uuid, md5('st'||(r % {S}))::uuid,"
        f" md5('p'||(r % {P}))::uuid, 'closed-completed', (ARRAY['A', 'B'])[1 + r % 2], false,"
        " 'portal', false, now(), now(), true, 10, 1"
        f" FROM generate_series(0, {referrals} - 1) r",
        # Ten events per referral, two days apart, referrals spread over a year.
        "INSERT INTO referral_events (tenant_id, id, referral_id, seq, at, actor_kind, surface,"
        " from_status, to_status, detail)"
        f" SELECT md5('t'||(((e / 10) % {S}) % {D}))::uuid, gen_random_uuid(),"
        " md5('r'||(e / 10))::uuid, e % 10 + 1,"
        f" timestamptz '{START.isoformat()}' + (e / 10) * (interval '1 year' / {referrals})"
        " + (e % 10) * interval '2 days' + random() * interval '1 hour',"
        f" 'provider', 'api', NULL, ({array(STATUSES)})[1 + e % 10], '{{}}'"
        f" FROM generate_series(0, {events} - 1) e",
    ]
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection  # no parameters: '%' is the operator
            for statement in statements:
                raw.execute(statement)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def bench_app():
    name = create_database("baton_bench_rollups")
    try:
        urls = migrate_database(name)
        started = time.perf_counter()
        _generate(urls.owner_url, EVENTS)
        print(f"\ngenerated {EVENTS:,} events in {time.perf_counter() - started:.1f} s")
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=urls.app_url))
        yield SimpleNamespace(app=app, owner_url=urls.owner_url)
        with app.app_context():
            db.engine.dispose()
    finally:
        drop_database(name)


# The baseline: the same joins and grouping as the rollups, in one statement.
GROUP_BY = """
    SELECT e.tenant_id, CAST(date_trunc('week', timezone('UTC', e.at)) AS DATE) AS week_start,
           s.school_id, r.provider_id, r.tier, s.preferred_language, s.disability_or_iep,
           s.grade, e.to_status, count(*) AS events
    FROM referral_events e
    JOIN referrals r ON r.tenant_id = e.tenant_id AND r.id = e.referral_id
    JOIN students s ON s.tenant_id = r.tenant_id AND s.id = r.student_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
COLUMNS = (
    "tenant_id, week_start, school_id, provider_id, tier, preferred_language,"
    " disability_or_iep, grade, to_status, events"
)


def _incremental(app) -> dict:
    """Batches as the job runs them, timed by part; returns seconds and counts."""
    timings = {"district": 0.0, "county": 0.0, "batches": 0, "events": 0}
    with app.app_context(), travel_to(LATER):
        while True:
            with system_scope("benchmark: incremental rollups"):
                t0 = time.perf_counter()
                applied = rollups.apply_new_events(BATCH)
                db.session.commit()
                t1 = time.perf_counter()
                if not applied.events:
                    break
                rollups.rebuild_county_rollups(applied.first_week, applied.last_week)
                db.session.commit()
                t2 = time.perf_counter()
            timings["district"] += t1 - t0
            timings["county"] += t2 - t1
            timings["batches"] += 1
            timings["events"] += applied.events
        db.session.remove()
    return timings


def _baseline(app) -> dict:
    """The single GROUP BY, into a temporary table and counted only; then the check that the
    rollups hold exactly its rows (both ways round)."""
    with app.app_context(), system_scope("benchmark: one GROUP BY over every event"):
        t0 = time.perf_counter()
        db.session.execute(text(f"CREATE TEMPORARY TABLE baseline AS {GROUP_BY}"))
        t1 = time.perf_counter()
        groups = db.session.execute(text(f"SELECT count(*) FROM ({GROUP_BY}) g")).scalar()
        t2 = time.perf_counter()
        differ = db.session.execute(
            text(
                f"SELECT (SELECT count(*) FROM (SELECT {COLUMNS} FROM district_rollups"
                f" EXCEPT SELECT {COLUMNS} FROM baseline) a)"
                f" + (SELECT count(*) FROM (SELECT {COLUMNS} FROM baseline"
                f" EXCEPT SELECT {COLUMNS} FROM district_rollups) b)"
            )
        ).scalar()
        county_rows = db.session.execute(text("SELECT count(*) FROM county_rollups")).scalar()
        county_events = db.session.execute(
            text("SELECT coalesce(sum(events), 0) FROM county_rollups")
        ).scalar()
        db.session.rollback()
        db.session.remove()
    return {
        "into_table": t1 - t0,
        "count_only": t2 - t1,
        "groups": groups,
        "differ": differ,
        "county_rows": county_rows,
        "county_events": county_events,
    }


def _one_batch(bench) -> float:
    """The rollups emptied (by the owner), then every event in one incremental run: the same
    write path as the batches, without the batching."""
    engine = create_engine(bench.owner_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE district_rollups, county_rollups, rollup_watermarks")
    finally:
        engine.dispose()
    with bench.app.app_context(), travel_to(LATER):
        with system_scope("benchmark: every event in one run"):
            t0 = time.perf_counter()
            applied = rollups.apply_new_events(EVENTS)
            db.session.commit()
            seconds = time.perf_counter() - t0
        db.session.remove()
    assert applied.events == EVENTS
    return seconds


def test_rollup_throughput_against_one_group_by(bench_app):
    inc = _incremental(bench_app.app)
    base = _baseline(bench_app.app)
    one_batch = _one_batch(bench_app)
    assert inc["events"] == EVENTS
    assert base["differ"] == 0, "the incremental rollups differ from the GROUP BY"
    assert base["county_events"] == EVENTS

    def rate(seconds: float) -> float:
        return EVENTS / seconds if seconds else float("nan")

    district, county = inc["district"], inc["county"]
    print(f"\nrollup throughput over {EVENTS:,} events ({base['groups']:,} district rows,")
    print(f"  {base['county_rows']:,} county rows; batches of {BATCH:,}: {inc['batches']})")
    print(f"{'':34}{'seconds':>10}{'events/s':>14}{'ratio':>8}")
    rows = [
        ("GROUP BY into a table (baseline)", base["into_table"]),
        ("GROUP BY, counted only", base["count_only"]),
        ("incremental: district rows", district),
        ("incremental: + county rows (job)", district + county),
        ("incremental: all in one run", one_batch),
    ]
    for label, seconds in rows:
        ratio = rate(seconds) / rate(base["into_table"])
        print(f"{label:34}{seconds:10.1f}{rate(seconds):14,.0f}{ratio:8.2f}")
    print("ratio: events/s as a fraction of the baseline GROUP BY into a table")
