"""The figures cache: a cached read equals an uncached one, a rollup run that changes a row
invalidates it, no district or county is ever served another's (or another threshold's)
entry, and Redis being down costs speed, never figures. Real Redis, real PostgreSQL; the
figures come from the world's referrals rolled up by the job."""

from __future__ import annotations

import pickle
import re
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, update

from baton.fhir_gateway.acting import as_provider
from baton.platform.app import create_app
from baton.platform.extensions import db
from baton.platform.metrics.periods import Month
from baton.platform.models import County, RollupWatermark
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import county_metrics, figures_cache, metrics, referrals, rollups
from baton.platform.services.rollups import SAFETY_LAG
from baton.tenants.context import acting_as, system_scope
from baton.workers.jobs.rollups import roll_up_new_events
from tests.conftest import base_config, login
from tests.factories import principal_of

BREAKDOWNS = ("school", "provider", "tier")


def _roll_up(app) -> int:
    """The job, as the worker runs it once the safety lag has passed."""
    with app.app_context(), travel_to(utcnow() + 2 * SAFETY_LAG):
        return roll_up_new_events()


def _move(app, world, target: str) -> None:
    """District A's referral moves on (its provider's EHR reports it): one new event."""
    with app.app_context(), as_provider(world.pa.id, "fhir"):
        referrals.transition_referral(world.referral_a.id, target)
        db.session.commit()


@pytest.fixture
def rolled(app, world, redis_client):
    """A's referral received (so A's figures differ from B's), everything rolled up, and an
    empty cache."""
    _move(app, world, "received")
    _roll_up(app)
    figures_cache.clear_local()
    return world


@contextmanager
def rollup_reads(app):
    """The statements that read a rollup table while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if re.search(r"\w_rollups\b", statement):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _district(app, email="district_admin@a.test", breakdowns=BREAKDOWNS):
    with app.app_context():
        principal = principal_of(email)
        with acting_as(principal):
            month = Month.parse(None, utcnow().date())
            figures = metrics.district_figures(month, breakdowns)
            trend = metrics.trend()
            db.session.rollback()
    return figures, trend


def _county(app, breakdown="district"):
    with app.app_context():
        principal = principal_of("commissioner@test.test")
        with acting_as(principal):
            month = Month.parse(None, utcnow().date())
            figures = county_metrics.as_json(county_metrics.county_figures(month, breakdown))
            db.session.rollback()
    return figures


def _version(app) -> str:
    with app.app_context():
        version = figures_cache.rollup_version()
        db.session.rollback()
    return version


def _keys(redis_client, pattern: str) -> set[str]:
    return {k.decode() for k in redis_client.scan_iter(f"{figures_cache.PREFIX}{pattern}")}


def _signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def app_with(database):
    """Another app on the same database, with a different REDIS_URL."""
    made = []

    def make(redis_url):
        other = create_app(
            base_config(SQLALCHEMY_DATABASE_URI=database.app_url, REDIS_URL=redis_url)
        )
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


# ---------------------------------------------------------------- the checks


def test_a_cached_read_equals_an_uncached_one(app, rolled, redis_client, app_with):
    with rollup_reads(app) as reads:
        first = _district(app)
    assert reads, "the first read computes from the rollups"
    assert first[0].overall["received"].numerator == 1  # the figures are the world's
    tenant = rolled.tenant_a.id
    assert _keys(redis_client, f"district:{tenant}:*") and _keys(
        redis_client, f"district-weeks:{tenant}:*"
    )
    with rollup_reads(app) as reads:
        second = _district(app)
    assert reads == [], "the second read is served from the cache"
    uncached = _district(app_with(f"redis://127.0.0.1:{_closed_port()}/0"))
    assert first == second == uncached

    with rollup_reads(app) as reads:
        county = _county(app)
    assert reads and _keys(redis_client, f"county:{rolled.county.id}:*")
    with rollup_reads(app) as reads:
        again = _county(app)
    assert reads == []
    assert county == again == _county(app_with(f"redis://127.0.0.1:{_closed_port()}/0"))


def test_a_rollup_run_that_changes_a_row_invalidates_and_the_new_figure_appears(
    app, rolled, redis_client
):
    before, _trend = _district(app)
    county_before = _county(app)
    version = _version(app)
    assert _roll_up(app) == 0 and _version(app) == version  # nothing new: entries stay good
    with rollup_reads(app) as reads:
        _district(app)
    assert reads == []

    _move(app, rolled, "accepted")
    assert _roll_up(app) == 1
    assert _version(app) != version
    after, _trend = _district(app)
    assert before.overall["accepted"].numerator == 0
    assert after.overall["accepted"].numerator == 1
    funnel = {r["group"]: r["cells"] for r in _county(app)["tables"]["funnel"]["rows"]}
    old = {r["group"]: r["cells"] for r in county_before["tables"]["funnel"]["rows"]}
    assert funnel != old  # A's referral moved from "received" to "accepted" (zero before)
    assert old["District A"]["accepted"] == 0 and funnel["District A"]["accepted"] is None


def test_one_districts_entry_is_never_served_to_another(app, rolled, redis_client):
    a, _trend = _district(app, "district_admin@a.test")
    b, _trend = _district(app, "district_admin@b.test")  # same month, same breakdowns
    assert a.overall["received"].numerator == 1 and b.overall["received"].numerator == 0
    assert "School-A-Marker" in a.breakdowns["school"].groups
    assert list(b.breakdowns["school"].groups) == ["School-B-Marker"]
    keys = _keys(redis_client, "district:*")
    assert len(keys) == 2
    tenants = {str(rolled.tenant_a.id), str(rolled.tenant_b.id)}
    assert {next(t for t in tenants if f":{t}:" in k) for k in keys} == tenants
    # Read again, now both are cached: each still gets its own.
    assert _district(app, "district_admin@b.test")[0] == b
    assert _district(app, "district_admin@a.test")[0] == a


def test_the_county_threshold_is_part_of_the_key(app, rolled, redis_client, owner_engine):
    suppressed = _county(app)
    assert (
        suppressed["suppression_threshold"] == 11
        and suppressed["tables"]["funnel"]["total"] is None
    )
    with owner_engine.begin() as conn:
        conn.execute(update(County.__table__).values(suppression_threshold=1))
    shown = _county(app)  # no rollup ran: only the threshold changed
    assert shown["suppression_threshold"] == 1
    assert shown["tables"]["funnel"]["total"] == 2  # one referral per district, nothing hidden
    keys = _keys(redis_client, f"county:{rolled.county.id}:*")
    assert {re.search(r":t(\d+):", k).group(1) for k in keys} == {"11", "1"}


def test_redis_unreachable_the_pages_still_render_the_figures(app, rolled, app_with):
    expected, _trend = _district(app)
    down = app_with(f"redis://127.0.0.1:{_closed_port()}/0")
    assert _district(down)[0] == expected
    admin = _signed_in(down, "district_admin@a.test")
    page = admin.get("/metrics?breakdown=school")
    assert page.status_code == 200
    card = page.text.split('data-metric="referrals"')[1].split("</div>")[0]
    assert '<strong class="value">1</strong>' in card
    assert "School-A-Marker" in page.text
    county = _signed_in(down, "commissioner@test.test").get("/county?breakdown=tier")
    assert county.status_code == 200 and "suppressed" in county.text
    assert admin.get("/api/v1/metrics?breakdown=tier").json["overall"]["received"]["value"] == 1


def test_without_redis_each_process_keeps_its_own_entries(app, rolled, app_with):
    embedded = app_with(None)
    first, _trend = _district(embedded)
    with rollup_reads(embedded) as reads:
        assert _district(embedded)[0] == first
    assert reads == []
    _move(app, rolled, "accepted")
    _roll_up(app)
    assert _district(embedded)[0].overall["accepted"].numerator == 1


def test_the_version_is_read_once_a_transaction_and_moves_with_a_change(app, rolled):
    with app.app_context():
        row = db.session.execute(
            select(RollupWatermark.event_id).where(RollupWatermark.name == rollups.VERSION)
        ).scalar_one()
        assert figures_cache.rollup_version() == str(row)
        with system_scope("test: a rollup run in this transaction"):
            rollups.mark_changed()
        assert figures_cache.rollup_version() != str(row)  # its own change is seen at once
        db.session.rollback()
    assert _version(app) == str(row)  # rolled back: the version with it


def _in_thread(app, fn, out: dict, name: str) -> threading.Thread:
    def run():
        with app.app_context():
            try:
                out[name] = fn()
            except Exception as exc:  # handed to the test
                out[name] = exc
            finally:
                db.session.rollback()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_reader_waits_for_the_entry_being_computed(app, rolled, redis_client):
    calls, out = [], {}

    def slow():
        calls.append("first")
        time.sleep(0.4)
        return {"sent": 7}

    def second():
        calls.append("second")
        return {"sent": -1}

    def read(compute):
        return lambda: figures_cache.cached("test", rolled.tenant_a.id, ("m",), compute)

    first = _in_thread(app, read(slow), out, "first")
    time.sleep(0.1)  # the first holds the computing lock now
    waiting = _in_thread(app, read(second), out, "second")
    first.join()
    waiting.join()
    assert out == {"first": {"sent": 7}, "second": {"sent": 7}} and calls == ["first"]
    assert not _keys(redis_client, f"*{figures_cache.LOCK}")


def test_when_the_computing_reader_fails_the_waiting_one_computes(app, rolled, redis_client):
    out = {}

    def failing():
        time.sleep(0.3)
        raise RuntimeError("the database went away")

    def read(compute):
        return lambda: figures_cache.cached("test", rolled.tenant_a.id, ("m",), compute)

    first = _in_thread(app, read(failing), out, "first")
    time.sleep(0.1)
    waiting = _in_thread(app, read(lambda: {"sent": 3}), out, "second")
    first.join()
    waiting.join()
    assert isinstance(out["first"], RuntimeError) and out["second"] == {"sent": 3}


def test_an_entry_this_deployment_did_not_sign_is_a_miss(app, rolled, redis_client):
    with app.app_context():
        key = figures_cache.key_of("test", rolled.tenant_a.id, ("m",), _version(app))
        redis_client.set(key, b"\0" * 32 + pickle.dumps({"sent": 999}))
        found = figures_cache.cached("test", rolled.tenant_a.id, ("m",), lambda: {"sent": 1})
        db.session.rollback()
    assert found == {"sent": 1}
