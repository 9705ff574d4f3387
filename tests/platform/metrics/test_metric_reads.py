"""The metric reads: every breakdown and the whole in one statement per rollup table (GROUPING
SETS on PostgreSQL, a UNION ALL on SQLite) give what one read per breakdown gives, inside the
district's own rows; and each metric declares the rollup tables it is computed from."""

from __future__ import annotations

from datetime import timedelta

import flask_migrate
import pytest
from sqlalchemy import create_engine

from baton.platform.app import create_app
from baton.platform.extensions import db
from baton.platform.metrics.definitions import METRICS, Sums
from baton.platform.services import metric_reads as reads
from baton.tenants.context import Principal, acting_as, system_scope
from baton.workers.jobs.rollups import roll_up_new_events
from tests.conftest import base_config
from tests.workers.test_rollups import T0, _small_stream, build_skeleton, run_job

FIRST, LAST = T0.date(), (T0 + timedelta(days=21)).date()


def _check_reads(app, skeleton) -> None:
    everything = (None, *reads.DISTRICT_BREAKDOWNS)
    with app.app_context():
        for tenant in skeleton.tenants:
            district = Principal(kind="district", surface="job", tenant_id=tenant)
            with acting_as(district):
                together = reads.read_breakdowns(reads.DISTRICT, FIRST, LAST, everything)
                apart = {b: reads.read_sums(reads.DISTRICT, FIRST, LAST, b) for b in everything}
            with system_scope("test: one district's rows, named explicitly"):
                named = reads.read_sums(
                    reads.DISTRICT, FIRST, LAST, None, lambda m, t=tenant: m.tenant_id == t
                )
            assert together == apart
            assert together[None] == named  # the choke point kept the district to its rows
            assert together[None][None].c("sent") > 0
        for county in set(skeleton.county_of.values()):
            with system_scope("test: county reads"):
                where = (lambda m, c=county: m.county_id == c,)
                sets = (None, *reads.COUNTY_BREAKDOWNS)
                together = reads.read_breakdowns(reads.COUNTY, FIRST, LAST, sets, *where)
                apart = {b: reads.read_sums(reads.COUNTY, FIRST, LAST, b, *where) for b in sets}
            assert together == apart
        db.session.rollback()


def test_one_statement_per_table_on_postgresql(app, owner_engine):
    with owner_engine.begin() as conn:
        skeleton = build_skeleton(conn)
    stream = _small_stream(owner_engine, skeleton)
    assert run_job(app, T0 + timedelta(days=20), roll_up_new_events, 10_000) == len(stream.events)
    _check_reads(app, skeleton)


def test_one_statement_per_table_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/reads.db"
    sqlite_app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with sqlite_app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            skeleton = build_skeleton(conn)
        stream = _small_stream(engine, skeleton)
        later = T0 + timedelta(days=20)
        assert run_job(sqlite_app, later, roll_up_new_events, 10_000) == len(stream.events)
        _check_reads(sqlite_app, skeleton)
    finally:
        engine.dispose()
        with sqlite_app.app_context():
            db.engine.dispose()


def _full() -> Sums:
    """A group with something in every rollup table's part of Sums."""
    s = Sums()
    for n, name in enumerate(
        ("sent", "received", "accepted", "scheduled", "attended", "contacted"), start=1
    ):
        s.cohort[name] = 60 - 7 * n
    s.cohort.update(
        appointment_outcomes=20,
        no_shows=5,
        bounced=4,
        repeats=3,
        matured_30d=30,
        engaged_30d=9,
        attended_matured_30d=12,
        continuing_30d=8,
    )
    s.durations = {"first-contact-hours": {4: 3, 24: 5}, "first-appointment-days": {7: 2, 10: 4}}
    s.cases = {
        ("manual", "opened", ""): 3,
        ("manual", "closed", "connected"): 2,
        ("contact-overdue", "closed", "alternative-plan"): 1,
        ("crisis", "opened", ""): 2,
        ("crisis", "closed", "caregiver-notified"): 1,
    }
    s.events = {("bounced", "bad-contact-info"): 4}
    return s


PARTS = {"cohorts": "cohort", "durations": "durations", "cases": "cases", "events": "events"}


@pytest.mark.parametrize("key", list(METRICS))
def test_each_metric_is_computed_from_the_tables_it_declares(key):
    metric, full = METRICS[key], _full()
    only = Sums(**{PARTS[t]: getattr(full, PARTS[t]) for t in metric.reads})
    assert set(metric.reads) <= set(reads.TABLES)
    assert metric.compute(only) == metric.compute(full)
    assert metric.compute(full) != metric.compute(Sums()), "the test group shows nothing"
