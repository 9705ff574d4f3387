"""What the API's hot paths cost next to the readiness probe, under real gunicorn.

``make bench``: a throwaway PostgreSQL database, migrated and seeded with a small world, the
app under gunicorn (2 x cores + 1 sync workers as in production; BENCH_WORKERS changes it)
on 127.0.0.1, and 16 concurrent connections for a fixed time against each of

1. ``GET /readyz`` (one ``SELECT 1``: the floor every request pays),
2. ``POST /api/v1/referrals`` (create and send: consent check, events, audit), each with a
   concern of its own recorded beforehand for a student whose family consented,
3. ``POST /api/v1/referrals/{id}/status`` (``withdrawn`` with a reason and ``If-Match``),
   once per referral, on sent referrals made beforehand and by step 2.

It prints requests/s, p50/p99 latency and each endpoint's cost against the probe
(probe req/s / endpoint req/s) with the goals; it never asserts on the figures, only that
every request got the answer it should (otherwise the figures would mean nothing).
Latency includes queueing: 16 connections share the single-threaded workers.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from baton.platform.app import create_app
from baton.platform.extensions import db
from tests.conftest import (
    PASSWORD,
    base_config,
    create_database,
    csrf_token,
    drop_database,
    migrate_database,
)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
CONCURRENCY = 16
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
WARMUP = 2 * CONCURRENCY  # requests per endpoint before timing, not counted
STUDENTS = 40  # each with an active consent naming the partner provider
CREATE_POOL = int(os.environ.get("BENCH_CREATE_POOL", "4000"))  # concerns, one per create
STATUS_POOL = int(os.environ.get("BENCH_STATUS_POOL", "4000"))  # sent referrals made up front
GOALS = {"create": 4.0, "status": 3.0}  # at most this many probes' worth per request
CREATE_P99_GOAL_MS = 60.0
# Sync workers: the production default is 2 x cores + 1, so database waits overlap.
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))


# ---------------------------------------------------------------- database and server


def _prepare_database(name: str) -> SimpleNamespace:
    """Migrate as the owner and seed as the RLS-bound app role, as the suite does."""
    urls = migrate_database(name)
    owner_url, app_url = urls.owner_url, urls.app_url
    templates = _seed(app_url)
    return SimpleNamespace(app_url=app_url, **_multiply(owner_url, **templates))


def _seed(app_url: str) -> dict:
    """Through the services the API uses: the test world, and students whose families
    consented to the partner provider, each with a concern and a sent referral."""
    from sqlalchemy import select

    from baton.platform.models import Caregiver, School, Tenant
    from baton.platform.services import consent, referrals
    from baton.tenants.context import acting_as, system_scope
    from tests.factories import build_world, make_concern, make_student, principal_of

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=app_url))
    with app.app_context():
        w = build_world()
        with system_scope("benchmark fixtures"):
            tenant = db.session.get(Tenant, w.tenant_a.id)
            school = db.session.get(School, (w.tenant_a.id, w.school_a.id))
            students = [
                make_student(tenant, school, f"Bench{n}", f"Student{n}", f"BENCH-{n}")
                for n in range(STUDENTS)
            ]
            student_ids = [s.id for s in students]
            db.session.commit()
        concern_ids, referral_ids = [], []
        with acting_as(principal_of("navigator@a.test")):
            for student_id in student_ids:
                consent.record_consent(
                    student_id,
                    provider_id=w.pa.id,
                    consenter="caregiver",
                    caregiver_id=db.session.scalars(
                        select(Caregiver.id).where(Caregiver.student_id == student_id)
                    ).first(),
                    method="signed",
                    share_classes=["referral-reason", "contact-details", "status-feedback"],
                )
                concern_ids.append(make_concern(student_id, daily_functioning=True).id)
                referral = referrals.create_referral(
                    student_id=student_id,
                    concern_id=make_concern(student_id, daily_functioning=True).id,
                    provider_id=w.pa.id,
                )
                referral_ids.append(referral.id)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"provider_id": w.pa.id, "concern_ids": concern_ids, "referral_ids": referral_ids}


def _copy(table: str, new_values: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT list copying ``table``'s rows, some columns replaced."""
    columns = [c.name for c in db.metadata.tables[table].columns]
    return ", ".join(columns), ", ".join(new_values.get(c, f"t.{c}") for c in columns)


def _multiply(owner_url: str, provider_id, concern_ids, referral_ids) -> dict:
    """Enough rows for the timed loops, copied in bulk (as the owner) from the templates the
    services made: a fresh concern for every create, a sent referral (with its events) for
    every status update. The requests themselves then go through the app as usual."""
    from sqlalchemy import bindparam, create_engine, text

    import baton.platform.models  # noqa: F401  - the tables' columns

    copies = {
        "concerns": -(-CREATE_POOL // len(concern_ids)),
        "referrals": -(-STATUS_POOL // len(referral_ids)),
    }
    concern_cols, concern_select = _copy("concerns", {"id": "gen_random_uuid()"})
    referral_cols, referral_select = _copy("referrals", {"id": "t.new_id"})
    event_cols, event_select = _copy(
        "referral_events", {"id": "gen_random_uuid()", "referral_id": "s.new_id"}
    )
    event_select = event_select.replace("t.", "e.")
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            creates = conn.execute(
                text(
                    f"INSERT INTO concerns ({concern_cols}) SELECT {concern_select} "
                    "FROM concerns t, generate_series(1, :n) "
                    "WHERE t.id IN :ids RETURNING student_id, id"
                ).bindparams(bindparam("ids", expanding=True)),
                {"n": copies["concerns"], "ids": concern_ids},
            ).all()
            sent = conn.execute(
                text(
                    "WITH src AS MATERIALIZED (SELECT r.*, gen_random_uuid() AS new_id "
                    "FROM referrals r, generate_series(1, :n) WHERE r.id IN :ids), "
                    f"events AS (INSERT INTO referral_events ({event_cols}) "
                    f"SELECT {event_select} FROM src s "
                    "JOIN referral_events e ON e.referral_id = s.id) "
                    f"INSERT INTO referrals ({referral_cols}) SELECT {referral_select} "
                    "FROM src t RETURNING id, version"
                ).bindparams(bindparam("ids", expanding=True)),
                {"n": copies["referrals"], "ids": referral_ids},
            ).all()
    finally:
        engine.dispose()
    return {
        "provider_id": str(provider_id),
        "creates": [(str(student_id), str(id_)) for student_id, id_ in creates][:CREATE_POOL],
        "sent": [(str(id_), f'W/"{version}"') for id_, version in sent][:STATUS_POOL],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _start_gunicorn(app_url: str, port: int, log, extra_env=None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "BATON_ENV": "test",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "BATON_PASSWORD_HASHING": "cheap",
        "HOST": HOST,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(WORKERS),
        "WEB_THREADS": "1",
        **(extra_env or {}),
    }
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if _call(port, "GET", "/readyz")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    _stop(proc)
    log.seek(0)
    pytest.fail(f"gunicorn did not become ready:\n{log.read().decode(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server():
    name = create_database("baton_bench")
    proc = None
    try:
        started = time.perf_counter()
        data = _prepare_database(name)
        print(
            f"\nseeded {STUDENTS} students, {len(data.creates)} concerns and "
            f"{len(data.sent)} sent referrals in {time.perf_counter() - started:.1f} s"
        )
        with tempfile.TemporaryFile() as log:
            port = _free_port()
            proc = _start_gunicorn(data.app_url, port, log)
            yield SimpleNamespace(port=port, **vars(data))
    finally:
        if proc is not None:
            _stop(proc)
        drop_database(name)


# ---------------------------------------------------------------- load


def _call(port: int, method: str, path: str, body=None, headers=None):
    """One request on its own connection (sync workers close each one after answering)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if payload else {}
        conn.request(method, path, body=payload, headers={**all_headers, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read(), response.headers
    finally:
        conn.close()


def _login(port: int, email: str) -> dict:
    """Sign in through /login like a browser; the session cookie and the CSRF header."""
    base = f"http://{HOST}:{port}"
    with requests.Session() as session:
        token = csrf_token(session.get(f"{base}/login", timeout=10).text)
        response = session.post(
            f"{base}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, response.text
        token = csrf_token(session.get(f"{base}/login", timeout=10).text)
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return {"Cookie": cookie, "X-CSRFToken": token}


class Pool:
    """Work items handed out once each, across threads; None when there are no more."""

    def __init__(self, items):
        self._items = collections.deque(items)

    def take(self):
        try:
            return self._items.popleft()  # atomic on a deque
        except IndexError:
            return None

    def add(self, item) -> None:
        self._items.append(item)

    def __len__(self) -> int:
        return len(self._items)


def _measure(send, expected: int, pool: Pool | None, seconds: float = SECONDS) -> dict:
    """``CONCURRENCY`` threads call ``send(item)`` until time is up (or the pool is empty)."""
    latencies: list[float] = []
    unexpected: collections.Counter = collections.Counter()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    finished: list[float] = []

    def worker():
        mine, wrong = [], collections.Counter()
        while time.perf_counter() < deadline:
            item = pool.take() if pool is not None else None
            if pool is not None and item is None:
                break
            t0 = time.perf_counter()
            status, body = send(item)
            mine.append(time.perf_counter() - t0)
            if status != expected:
                wrong[f"{status} {body[:200]!r}"] += 1
        with lock:
            latencies.extend(mine)
            unexpected.update(wrong)
            finished.append(time.perf_counter())

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = max(finished) - started
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "seconds": elapsed,
        "rps": count / elapsed if elapsed else 0.0,
        "p50": _percentile(latencies, 50),
        "p99": _percentile(latencies, 99),
        "unexpected": unexpected,
        "ran_out": pool is not None and len(pool) == 0 and elapsed < seconds - 0.05,
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index] * 1000  # ms


def _warm_up(send, items) -> None:
    for item in items:
        send(item)


# ---------------------------------------------------------------- the benchmark


def test_api_cost_against_the_probe(server):
    port = server.port
    auth = _login(port, "navigator@a.test")

    def probe(_):
        status, body, _headers = _call(port, "GET", "/readyz")
        return status, body

    status_pool = Pool(server.sent)

    def create(item):
        student_id, concern_id = item
        body = {
            "student_id": student_id,
            "concern_id": concern_id,
            "provider_id": server.provider_id,
            "caregiver_present": True,
        }
        status, data, headers = _call(port, "POST", "/api/v1/referrals", body, auth)
        if status == 201:
            status_pool.add((json.loads(data)["id"], headers["ETag"]))
        return status, data

    def withdraw(item):
        referral_id, etag = item
        body = {"status": "withdrawn", "reason": "benchmark: family chose another route"}
        headers = {**auth, "If-Match": etag}
        status, data, _headers = _call(
            port, "POST", f"/api/v1/referrals/{referral_id}/status", body, headers
        )
        return status, data

    create_pool = Pool(server.creates)
    _warm_up(probe, range(WARMUP))
    _warm_up(create, [create_pool.take() for _ in range(WARMUP)])
    _warm_up(withdraw, [status_pool.take() for _ in range(WARMUP)])

    results = {
        "readyz": _measure(probe, 200, None),
        "create": _measure(create, 201, create_pool),
        "status": _measure(withdraw, 200, status_pool),
    }
    _report(results)
    problems = {name: r["unexpected"] for name, r in results.items() if r["unexpected"]}
    assert not problems, f"requests answered other than expected: {problems}"


def _report(results: dict) -> None:
    labels = {
        "readyz": "GET  /readyz",
        "create": "POST /api/v1/referrals",
        "status": "POST /api/v1/referrals/{id}/status",
    }
    probe_rps = results["readyz"]["rps"]
    print(
        f"\n{CONCURRENCY} concurrent connections, {SECONDS:g} s per endpoint, "
        f"gunicorn {WORKERS} sync workers on 127.0.0.1\n"
    )
    print(f"{'endpoint':<38}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cost':>8}")
    for name, r in results.items():
        ratio = probe_rps / r["rps"] if r["rps"] else float("inf")
        note = f"  (pool ran out after {r['seconds']:.1f} s)" if r["ran_out"] else ""
        print(
            f"{labels[name]:<38}{r['requests']:>9}{r['rps']:>9.1f}{r['p50']:>9.1f}"
            f"{r['p99']:>9.1f}{ratio:>7.2f}x{note}"
        )
        r["ratio"] = ratio
    print("\ngoals (printed, not asserted):")
    for name, limit in GOALS.items():
        ratio = results[name]["ratio"]
        verdict = "holds" if ratio <= limit else "MISSED"
        print(f"  {labels[name]:<38} cost {ratio:5.2f}x  <= {limit:g}x probe   {verdict}")
    p99 = results["create"]["p99"]
    verdict = "holds" if p99 < CREATE_P99_GOAL_MS else "MISSED"
    print(f"  {labels['create']:<38} p99 {p99:6.1f} ms < {CREATE_P99_GOAL_MS:g} ms     {verdict}")
