"""What the clock sweep costs on a large table: selecting what is due, and acting on it.

``make bench``: a throwaway PostgreSQL database migrated to head; a few districts seeded
through the services (a student, consent, concern and sent referral each, as templates), then
multiplied in bulk by the owner with ``INSERT ... SELECT generate_series``: students, a concern
each, and ``BENCH_REFERRALS`` (default 1,000,000) open referrals in status ``sent`` whose
contact clock is unconfirmed. ``BENCH_DUE_PERCENT`` (default 1) of them are due (contact and
next due timestamps spread over the past day), the rest fall due over the coming week.

1. Due selection: ``clock.due_referrals`` in a system scope as the RLS-bound app role, with a
   limit above the due count so one call returns the whole due set, timed at cut-offs where
   0 rows, a tenth of the due rows and all of them are due (the same table; ``now`` moves),
   next to a count over every open referral (what a sweep that read the table would pay).
   Selecting does not consume anything, so each figure is a median of repeated calls.
2. Escalation throughput: the real job ``apply_referral_clocks`` (job scope of the district,
   one transaction per chunk of ``CHUNK`` referrals, as an RQ worker runs it) in one thread (on
   ``BENCH_SERIAL_SAMPLE`` referrals, scaled) and for every due referral in ``BENCH_THREADS``
   threads (default 4); then, from the same due rows restored, one set-based SQL statement
   (UPDATE referrals + INSERT escalations, audit rows and notifications) as the app role, and
   the same statement per batch of 100 and per row (one transaction each; timed on
   ``BENCH_PER_ROW_SAMPLE`` rows, scaled). Referrals escalated per second, and the ORM path
   as a ratio of the raw set-based statement (goal: within 20x).
3. Where the ORM path's time goes: statements, pool checkouts and commits per chunk and the
   share of wall time spent waiting on the database, on a sample (``BENCH_PROFILE=1`` adds a
   cProfile listing).

It prints the figures and never asserts on them; it only checks that each run escalated every
due referral exactly once (otherwise the figures would mean nothing).
"""

from __future__ import annotations

import collections
import cProfile
import io
import os
import pstats
import statistics
import threading
import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import bindparam, create_engine, event, func, select, text

from baton.platform import lifecycle
from baton.platform.app import create_app
from baton.platform.extensions import db
from tests.conftest import (
    PASSWORD,
    base_config,
    create_database,
    drop_database,
    migrate_database,
)

ROWS = int(os.environ.get("BENCH_REFERRALS", "1000000"))
DUE_PERCENT = float(os.environ.get("BENCH_DUE_PERCENT", "1"))
DISTRICTS = int(os.environ.get("BENCH_DISTRICTS", "4"))
STUDENTS = int(os.environ.get("BENCH_STUDENTS", "20000"))  # across all districts
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))  # timed calls per selection figure
RAW_REPEAT = 3  # runs of the set-based statement (its median is the reference)
PROFILE_SAMPLE = int(os.environ.get("BENCH_PROFILE_SAMPLE", "300"))
SERIAL_SAMPLE = int(os.environ.get("BENCH_SERIAL_SAMPLE", "2000"))  # ORM job, 1 thread
PER_ROW_SAMPLE = int(os.environ.get("BENCH_PER_ROW_SAMPLE", "2000"))  # raw SQL, 1 row per tx
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
GOAL_RATIO = 20.0  # ORM escalation path: at most this many times slower than set-based SQL
DUE_EVERY = max(1, round(100 / DUE_PERCENT)) if DUE_PERCENT > 0 else 0  # every Nth row is due
OPEN = sorted(lifecycle.OPEN)


# ---------------------------------------------------------------- database


def _prepare_database(name: str) -> SimpleNamespace:
    return migrate_database(name)


def _seed_templates(app) -> dict:
    """Through the services, as the API would: per district a school, a navigator and an
    escalation lead, a partnership with one provider, a student whose caregiver consented,
    a concern and a sent referral (which also creates the district's settings row)."""
    from baton.platform.models import Caregiver, School, Tenant
    from baton.platform.services import consent, referrals
    from baton.platform.services import provisioning as prov
    from baton.tenants.context import acting_as, system_scope
    from tests.factories import make_concern, make_student, principal_of

    out = {"students": [], "concerns": [], "referrals": []}
    with app.app_context():
        with system_scope("benchmark fixtures"):
            prov.create_county("Bench County", "bench-county")
            provider, _ = prov.create_provider("Bench Provider", "bench-provider")
            provider_id = provider.id
            made = []
            for n in range(DISTRICTS):
                tenant, _ = prov.create_tenant(f"Bench District {n}", f"bench-{n}", "bench-county")
                school, _ = prov.create_school(tenant, f"Bench School {n}", f"BS{n}")
                prov.create_partnership(tenant, provider, start=date(2025, 8, 1))
                for role in ("navigator", "escalation_lead"):
                    prov.create_user(
                        f"{role}@bench-{n}.test", f"{role} {n}", PASSWORD, role, tenant=tenant
                    )
                made.append((tenant.id, school.id))
            db.session.commit()
            students = []
            for n, (tenant_id, school_id) in enumerate(made):
                tenant = db.session.get(Tenant, tenant_id)
                school = db.session.get(School, (tenant_id, school_id))
                students.append(make_student(tenant, school, "Template", f"Bench{n}", f"T-{n}").id)
            db.session.commit()
        for n, student_id in enumerate(students):
            with acting_as(principal_of(f"navigator@bench-{n}.test")):
                consent.record_consent(
                    student_id,
                    provider_id=provider_id,
                    consenter="caregiver",
                    caregiver_id=db.session.scalars(
                        select(Caregiver.id).where(Caregiver.student_id == student_id)
                    ).first(),
                    method="signed",
                    share_classes=["referral-reason", "contact-details", "status-feedback"],
                )
                concern = make_concern(student_id, daily_functioning=True)
                referral = referrals.create_referral(
                    student_id=student_id,
                    concern_id=concern.id,
                    provider_id=provider_id,
                    caregiver_present=True,
                )
                out["students"].append(student_id)
                out["concerns"].append(concern.id)
                out["referrals"].append(referral.id)
            db.session.commit()
        db.session.remove()
    return out


def _copy(table: str, new_values: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT list copying ``table``'s rows (alias ``t``), some replaced."""
    columns = [c.name for c in db.metadata.tables[table].columns]
    return ", ".join(columns), ", ".join(new_values.get(c, f"t.{c}") for c in columns)


def _multiply(owner_engine, templates: dict) -> float:
    """Students, a concern each, and ROWS referrals, copied in bulk from the templates by the
    owner. Foreign-key triggers are off while copying (the copies point at rows that exist)
    when the owner may turn them off. Returns the seconds it took."""
    import baton.platform.models  # noqa: F401  - the tables' columns

    per_district = max(1, STUDENTS // DISTRICTS)
    student_cols, student_select = _copy(
        "students",
        {
            "id": "gen_random_uuid()",
            "local_id": "'B-' || g",
            "first_name": "'Bench'",
            "last_name": "'Student' || g",
        },
    )
    concern_cols, concern_select = _copy(
        "concerns", {"id": "gen_random_uuid()", "student_id": "s.id"}
    )
    due_at = "now() - (((g / 100) % 1440) + 1) * interval '1 minute'"  # over the past day
    later = "now() + interval '1 hour' + (g % 10080) * interval '1 minute'"  # the coming week
    due = f"CASE WHEN {DUE_EVERY} > 0 AND g % {DUE_EVERY or 1} = 0 THEN {due_at} ELSE {later} END"
    referral_cols, referral_select = _copy(
        "referrals",
        {
            "id": "gen_random_uuid()",
            "student_id": "c.student_id",
            "concern_id": "c.concern_id",
            "status": "'sent'",
            "created_at": "s.due - interval '1 day'",
            "updated_at": "s.due - interval '1 day'",
            "sent_at": "s.due - interval '1 day'",
            "contact_confirmed_at": "NULL",
            "contact_due_at": "s.due",
            "schedule_due_at": "NULL",
            "bounce_due_at": "NULL",
            "attempt_prompt_due_at": "NULL",
            "reminder_due_at": "NULL",
            "bounce_decision_due_since": "NULL",
            "next_due_at": "s.due",
            "version": "1",
        },
    )
    started = time.perf_counter()
    ids = {"expanding": True}
    with owner_engine.begin() as conn:
        superuser = conn.exec_driver_sql(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).scalar()
        if superuser:  # skip the per-row foreign-key checks while copying
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(
            text(
                f"INSERT INTO students ({student_cols}) SELECT {student_select} "
                "FROM students t, generate_series(1, :n) g WHERE t.id IN :ids"
            ).bindparams(bindparam("ids", **ids)),
            {"n": per_district, "ids": templates["students"]},
        )
        conn.execute(
            text(
                f"INSERT INTO concerns ({concern_cols}) SELECT {concern_select} "
                "FROM concerns t JOIN students s ON s.tenant_id = t.tenant_id "
                "AND s.local_id LIKE 'B-%' WHERE t.id IN :ids"
            ).bindparams(bindparam("ids", **ids)),
            {"ids": templates["concerns"]},
        )
        # Secondary indexes are dropped and rebuilt from their own definitions: one sort
        # each instead of a million insertions each.
        secondary = conn.exec_driver_sql(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = 'referrals'::regclass AND NOT indisprimary AND NOT indisunique"
        ).all()
        for index_name, _definition in secondary:
            conn.exec_driver_sql(f"DROP INDEX {index_name}")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute(
            text(
                "WITH c AS MATERIALIZED ("
                "  SELECT tenant_id, student_id, id AS concern_id,"
                "         (row_number() OVER (ORDER BY student_id)) - 1 AS k"
                "  FROM concerns WHERE id NOT IN :ids), "
                "n AS (SELECT count(*) AS total FROM c), "
                f"s AS (SELECT g, {due} AS due FROM generate_series(0, :rows - 1) g) "
                f"INSERT INTO referrals ({referral_cols}) SELECT {referral_select} "
                "FROM s JOIN c ON c.k = s.g % (SELECT total FROM n) "
                "JOIN referrals t ON t.tenant_id = c.tenant_id AND t.id IN :templates"
            ).bindparams(bindparam("ids", **ids), bindparam("templates", **ids)),
            {"rows": ROWS, "ids": templates["concerns"], "templates": templates["referrals"]},
        )
        for _index_name, definition in secondary:
            conn.exec_driver_sql(definition)
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE students, concerns, referrals")
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def bench():
    name = create_database("baton_bench_sweep")
    owner_engine = None
    app = None
    try:
        urls = _prepare_database(name)
        owner_engine = create_engine(urls.owner_url)
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=urls.app_url))
        started = time.perf_counter()
        templates = _seed_templates(app)
        seeded = time.perf_counter() - started
        copied = _multiply(owner_engine, templates)
        with owner_engine.connect() as conn:
            counts = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM referrals), (SELECT count(*) FROM students),"
                    " (SELECT count(*) FROM concerns), (SELECT count(*) FROM tenant_settings),"
                    " (SELECT count(*) FROM referrals WHERE next_due_at <= now()),"
                    " pg_size_pretty(pg_total_relation_size('referrals'))"
                )
            ).one()
        print(
            f"\n{counts[0]:,} referrals ({counts[5]} with indexes), {counts[1]:,} students, "
            f"{counts[2]:,} concerns in {DISTRICTS} districts; {counts[4]:,} due "
            f"({DUE_PERCENT:g}%); services seeding {seeded:.1f} s, bulk copy {copied:.1f} s"
        )
        assert counts[3] == DISTRICTS, "every district needs its settings row before the run"
        yield SimpleNamespace(app=app, owner_engine=owner_engine, due_count=counts[4], **templates)
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        if owner_engine is not None:
            owner_engine.dispose()
        drop_database(name)


# ---------------------------------------------------------------- 1. due selection


def _select_due(app, now: datetime, limit: int) -> tuple[float, int]:
    """One sweep's read, as the sweep job does it: a system scope, the query, the end of the
    transaction. Seconds and rows."""
    from baton.platform.services import clock
    from baton.tenants.context import system_scope

    with app.app_context():
        t0 = time.perf_counter()
        with system_scope("benchmark: clock sweep"):
            rows = clock.due_referrals(now, limit=limit)
        db.session.rollback()
        elapsed = time.perf_counter() - t0
        db.session.remove()
    return elapsed, len(rows)


def _median_select(app, now: datetime, limit: int) -> tuple[float, int]:
    _select_due(app, now, limit)  # warm: connection, plan, buffers
    runs = [_select_due(app, now, limit) for _ in range(REPEAT)]
    return statistics.median(r[0] for r in runs), runs[0][1]


def _count_open(app) -> float:
    """A count over every open referral: the least a sweep that read the table would pay."""
    from baton.platform.models import Referral
    from baton.tenants.context import system_scope

    def once() -> float:
        with app.app_context():
            t0 = time.perf_counter()
            with system_scope("benchmark: full count"):
                db.session.execute(
                    select(func.count()).select_from(Referral).where(Referral.status.in_(OPEN))
                ).scalar_one()
            db.session.rollback()
            elapsed = time.perf_counter() - t0
            db.session.remove()
        return elapsed

    once()
    return statistics.median(once() for _ in range(max(3, REPEAT // 2)))


def _explain_due(app, now: datetime, limit: int) -> str:
    """EXPLAIN ANALYZE of the exact statement due_referrals sends (captured, then re-run)."""
    from baton.platform.services import clock
    from baton.tenants.context import system_scope

    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "next_due_at" in statement:
            captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            with system_scope("benchmark: explain"):
                clock.due_referrals(now, limit=limit)
                statement, parameters = captured[-1]
                raw = db.session.connection().exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
                )
                plan = raw.scalar_one()[0]
        finally:
            event.remove(engine, "before_cursor_execute", capture)
            db.session.rollback()
            db.session.remove()
    nodes, node = [], plan["Plan"]
    while node is not None:
        label = node["Node Type"]
        if node.get("Index Name"):
            label += f" on {node['Index Name']}"
        nodes.append(label)
        node = (node.get("Plans") or [None])[0]
    top = plan["Plan"]
    blocks = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return f"{' > '.join(nodes)}; {blocks:,} buffers; {plan['Execution Time']:.1f} ms in server"


def _due_cutoffs(owner_engine, due_count: int) -> dict[str, datetime]:
    """``now`` values at which none, a tenth, and all of the due rows are due."""
    with owner_engine.connect() as conn:
        oldest, tenth = conn.execute(
            text(
                "SELECT min(next_due_at), (SELECT next_due_at FROM referrals "
                " WHERE next_due_at <= now() ORDER BY next_due_at OFFSET :k LIMIT 1) "
                "FROM referrals WHERE next_due_at <= now()"
            ),
            {"k": max(0, due_count // 10 - 1)},
        ).one()
    now = datetime.now(UTC)
    cutoffs = {"0 due": (oldest or now) - timedelta(seconds=1)}
    if tenth is not None:
        cutoffs["a tenth due"] = tenth
    cutoffs["all due"] = now
    return cutoffs


# ---------------------------------------------------------------- 2. escalation


def _snapshot_due(owner_engine) -> list[tuple[str, str]]:
    """Remember the due rows' timestamps (to restore them between runs); their keys."""
    with owner_engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE bench_due AS SELECT tenant_id, id, contact_due_at, next_due_at, version "
            "FROM referrals WHERE next_due_at <= now()"
        )
        rows = conn.execute(text("SELECT tenant_id, id FROM bench_due ORDER BY next_due_at")).all()
    return [(str(t), str(i)) for t, i in rows]


def _restore(owner_engine) -> None:
    """Put the due rows back as they were and remove what the last run wrote (as the owner:
    the app role cannot delete audit rows)."""
    with owner_engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE referrals r SET contact_due_at = b.contact_due_at, "
            "next_due_at = b.next_due_at, version = b.version "
            "FROM bench_due b WHERE r.tenant_id = b.tenant_id AND r.id = b.id"
        )
        conn.exec_driver_sql("DELETE FROM escalations WHERE kind = 'contact-overdue'")
        conn.exec_driver_sql("DELETE FROM notifications WHERE kind = 'escalation'")
        conn.exec_driver_sql("DELETE FROM audit_log WHERE object_type = 'escalation'")
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE referrals, escalations, notifications, audit_log")


def _expected(due: int, processed: int) -> tuple[int, int, int, int]:
    """What ``_outcome`` should say after ``processed`` of ``due`` referrals were escalated."""
    return processed, processed, processed, due - processed


def _outcome(owner_engine) -> tuple[int, int, int, int]:
    """Escalations, their audit rows, notifications, due rows left unconsumed."""
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT (SELECT count(*) FROM escalations WHERE kind = 'contact-overdue'),"
                " (SELECT count(*) FROM audit_log WHERE object_type = 'escalation'),"
                " (SELECT count(*) FROM notifications WHERE kind = 'escalation'),"
                " (SELECT count(*) FROM referrals r JOIN bench_due b USING (tenant_id, id)"
                "  WHERE r.contact_due_at IS NOT NULL)"
            )
        ).one()


def _shape(owner_engine) -> set[tuple]:
    """The distinct non-key values of the rows a run wrote (to compare the ORM and raw runs)."""
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT 'escalation', kind, reason, status, assigned_to::text "
                "FROM escalations WHERE kind = 'contact-overdue' UNION "
                "SELECT DISTINCT 'notification', kind, text, email_status, user_id::text "
                "FROM notifications WHERE kind = 'escalation' UNION "
                "SELECT DISTINCT 'audit', actor_kind, surface, action || ' ' || object_type, "
                "acting_for FROM audit_log WHERE object_type = 'escalation' UNION "
                "SELECT DISTINCT 'referral', r.status, (r.contact_due_at IS NULL)::text, "
                "(r.next_due_at IS NULL)::text, r.bounce_decision_due_since::text "
                "FROM referrals r JOIN bench_due b USING (tenant_id, id)"
            )
        ).all()
    return {tuple(row) for row in rows}


def _run_jobs(app, due: list[tuple[str, str]], threads: int) -> tuple[float, collections.Counter]:
    """The real job as the sweep enqueues it: one call per district chunk of CHUNK due
    referrals, from ``threads`` threads sharing the chunks."""
    from itertools import groupby

    from baton.workers.jobs.clocks import CHUNK, apply_referral_clocks

    chunks = []
    for tenant_id, pairs in groupby(sorted(due), key=lambda pair: pair[0]):
        ids = [referral_id for _, referral_id in pairs]
        chunks += [(tenant_id, ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]
    work = collections.deque(chunks)
    results: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def worker():
        mine: collections.Counter = collections.Counter()
        with app.app_context():  # the job pushes its own context (own session) per call
            while True:
                try:
                    tenant_id, referral_ids = work.popleft()
                except IndexError:
                    break
                try:
                    mine["clock actions"] += apply_referral_clocks(tenant_id, referral_ids)
                    mine["chunks"] += 1
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    mine[f"error {type(exc).__name__}"] += 1
        with lock:
            results.update(mine)

    t0 = time.perf_counter()
    if threads == 1:  # in this thread (so a profiler running here sees the work)
        worker()
        return time.perf_counter() - t0, results
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - t0, results


# What apply_due_clocks writes for a due, unconfirmed contact clock (clock.py, navigation.py,
# notifications.py, audit.py), as one statement; _shape() checks that the rows match.
RAW_ESCALATE = text(
    """
    WITH due AS (
      SELECT unnest(CAST(:tenants AS uuid[])) AS tenant_id, unnest(CAST(:ids AS uuid[])) AS id
    ), consumed AS (
      UPDATE referrals r
         SET contact_due_at = NULL,
             next_due_at = LEAST(r.schedule_due_at, r.bounce_due_at,
                                 r.attempt_prompt_due_at, r.reminder_due_at),
             updated_at = now(), version = r.version + 1
        FROM due
       WHERE r.tenant_id = due.tenant_id AND r.id = due.id
         AND r.contact_due_at <= now() AND r.status IN :open
      RETURNING r.tenant_id, r.id, r.contact_confirmed_at
    ), lead AS (
      SELECT t.id AS tenant_id, coalesce(s.designated_lead_id, (
               SELECT m.user_id FROM memberships m
                WHERE m.tenant_id = t.id AND m.role = 'escalation_lead'
                ORDER BY m.created_at LIMIT 1)) AS user_id
        FROM tenants t LEFT JOIN tenant_settings s ON s.tenant_id = t.id
    ), opened AS (
      INSERT INTO escalations (tenant_id, id, referral_id, kind, reason, assigned_to, status,
                               opened_by, opened_at, actions)
      SELECT c.tenant_id, gen_random_uuid(), c.id, 'contact-overdue',
             'Contact not confirmed within the standard', lead.user_id, 'open', NULL, now(),
             '[]'
        FROM consumed c LEFT JOIN lead USING (tenant_id)
       WHERE c.contact_confirmed_at IS NULL
      RETURNING tenant_id, id, referral_id, assigned_to
    ), audited AS (
      INSERT INTO audit_log (id, tenant_id, at, actor_user_id, actor_kind, actor_role,
                             acting_for, surface, action, object_type, object_id, request_id,
                             detail)
      SELECT gen_random_uuid(), o.tenant_id, now(), NULL, 'system', NULL,
             'system:clock: act on due referrals', 'job', 'create', 'escalation', o.id::text,
             NULL, json_build_object('referral_id', o.referral_id::text, 'kind', 'contact-overdue')
        FROM opened o
    )
    INSERT INTO notifications (tenant_id, id, user_id, kind, referral_id, text, created_at,
                               email_status, email_attempts)
    SELECT o.tenant_id, gen_random_uuid(), o.assigned_to, 'escalation', o.referral_id,
           'New escalation (contact overdue): a referral needs your attention.', now(),
           'pending', 0
      FROM opened o WHERE o.assigned_to IS NOT NULL
    """
).bindparams(bindparam("open", expanding=True))

SYSTEM_GUCS = text(
    "SELECT set_config('baton.tenant_ids', '', true), set_config('baton.system', 'on', true)"
)


def _run_raw(app_engine, due: list[tuple[str, str]], batch: int) -> float:
    """The set-based statement as the app role (RLS on, system scope), one transaction per
    ``batch`` referrals."""
    chunks = [due[i : i + batch] for i in range(0, len(due), batch)]
    with app_engine.connect() as conn:
        t0 = time.perf_counter()
        for chunk in chunks:
            with conn.begin():
                conn.execute(SYSTEM_GUCS)
                conn.execute(
                    RAW_ESCALATE,
                    {
                        "tenants": [t for t, _ in chunk],
                        "ids": [i for _, i in chunk],
                        "open": OPEN,
                    },
                )
        return time.perf_counter() - t0


# ---------------------------------------------------------------- 3. where the time goes


class Tally:
    """Round trips on the app's engine while active: statements and the time inside the
    driver's execute (by kind), pool checkouts (each pings: pool_pre_ping) and commits."""

    def __init__(self, engine):
        self.engine = engine
        self.kinds: collections.Counter = collections.Counter()
        self.seconds: collections.Counter = collections.Counter()
        self.checkouts = 0
        self.commits = 0
        self._started: list[tuple[str, float]] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine.pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine.pool, "checkout", self._checkout)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        kind = _kind(statement)
        self.kinds[kind] += 1
        self._started.append((kind, time.perf_counter()))

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        kind, started = self._started.pop()
        self.seconds[kind] += time.perf_counter() - started

    def _commit(self, conn):
        self.commits += 1

    def _checkout(self, dbapi_conn, record, proxy):
        self.checkouts += 1


def _kind(statement: str) -> str:
    """``SELECT referrals``, ``INSERT escalations``, ...: a statement's verb and table."""
    words = statement.split()
    upper = [w.upper() for w in words]
    head = upper[0] if words else "?"
    if "set_config" in statement:
        return "SELECT set_config (RLS settings)"
    if head == "UPDATE":
        target = words[1]
    elif head == "INSERT" and "INTO" in upper:
        target = words[upper.index("INTO") + 1]
    elif "FROM" in upper:
        target = words[upper.index("FROM") + 1]
    else:
        target = ""
    suffix = " FOR UPDATE SKIP LOCKED" if "SKIP LOCKED" in statement.upper() else ""
    return f"{head} {target}{suffix}".strip()


def _profile_sample(app, due: list[tuple[str, str]]) -> None:
    """Statements and database time per chunk on a sample, one thread; optional cProfile."""
    from baton.workers.jobs.clocks import CHUNK

    sample = due[:PROFILE_SAMPLE]
    with app.app_context():
        engine = db.engine
    profiler = cProfile.Profile() if PROFILE else None
    with Tally(engine) as tally:
        if profiler:
            profiler.enable()
        elapsed, results = _run_jobs(app, sample, 1)
        if profiler:
            profiler.disable()
    n, chunks = len(sample), max(results["chunks"], 1)
    print(f"\nwhere the ORM path's time goes ({n} referrals in {chunks} chunks, one thread):")
    print(
        f"  {elapsed / n * 1000:.2f} ms per referral, {elapsed / chunks * 1000:.1f} ms per chunk"
        "; per chunk, statements and ms inside the driver's execute:"
    )
    for kind, count in tally.kinds.most_common():
        print(f"    {count / chunks:5.2f}  {tally.seconds[kind] / chunks * 1000:6.2f} ms  {kind}")
    statements = sum(tally.kinds.values()) / chunks
    trips = statements + (tally.checkouts + tally.commits) / chunks
    print(
        f"    {tally.checkouts / chunks:5.2f}  pool checkout (pre-ping SELECT 1)\n"
        f"    {tally.commits / chunks:5.2f}  COMMIT\n"
        f"  = {statements:.1f} statements, about {trips:.1f} round trips per chunk of up to "
        f"{CHUNK} (the set-based statement: 2 per transaction, plus COMMIT)"
    )
    share = sum(tally.seconds.values()) / elapsed if elapsed else 0
    print(
        f"  waiting on statements (driver execute, server time included): {share:.0%} of wall "
        f"time; the rest is Python (ORM, scoping hooks, app contexts) and checkout/commit"
    )
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        print(out.getvalue())


# ---------------------------------------------------------------- the benchmark


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


def test_sweep_cost_follows_the_due_rows(bench):
    app, owner = bench.app, bench.owner_engine
    due_count = bench.due_count
    limit = max(due_count * 2, 1000)

    print(f"\nload average before: {_load()}")
    print(f"\n1. due selection: clock.due_referrals(limit={limit:,}), median of {REPEAT}")
    cutoffs = _due_cutoffs(owner, due_count)
    _select_due(app, cutoffs["all due"], limit)  # the first call of the process: not counted
    selected = {}
    for label, now in cutoffs.items():
        seconds, rows = _median_select(app, now, limit)
        selected[label] = (seconds, rows)
        plan = _explain_due(app, now, limit)
        print(f"  {label:<12}{rows:>9,} rows {seconds * 1000:9.2f} ms   {plan}")
    batch_seconds, batch_rows = _median_select(app, cutoffs["all due"], 500)
    print(f"  {'limit=500':<12}{batch_rows:>9,} rows {batch_seconds * 1000:9.2f} ms   (one sweep)")
    full = _count_open(app)
    print(f"  count(*) of every open referral: {full * 1000:.1f} ms (what reading the table costs)")
    all_s, all_rows = selected["all due"]
    none_s = selected["0 due"][0]
    ratio = all_s / none_s if none_s else float("inf")
    print(
        f"  {DUE_PERCENT:g}% due / 0% due: {ratio:.1f}x; 0% due costs {none_s / full:.2%} of a "
        f"table read; {all_s / max(all_rows, 1) * 1e6:.1f} us per due row"
    )

    print(f"\n2. escalation throughput ({due_count:,} due referrals)")
    due = _snapshot_due(owner)
    expected = _expected(len(due), len(due))
    _profile_sample(app, due)
    _restore(owner)

    runs = {}
    # One thread on a sample (its rate scaled to the due count), then every due referral
    # from BENCH_THREADS threads, as a few workers would take them off the queue.
    for threads, items in ((1, due[:SERIAL_SAMPLE]), (THREADS, due)):
        if threads == 1 and THREADS == 1:
            items = due
        seconds, results = _run_jobs(app, items, threads)
        n = len(items)
        print(
            f"  apply_referral_clocks x {n:,} in {threads} thread(s): {seconds:.1f} s, "
            f"{n / seconds:,.0f} referrals/s; results {dict(results)}"
        )
        assert _outcome(owner) == _expected(len(due), n), _outcome(owner)
        orm_shape = _shape(owner)
        _restore(owner)
        label = f"ORM job, {threads} thread{'s' if threads > 1 else ''}"
        runs[label + (", sampled" if n < len(due) else "")] = seconds * len(due) / n
        if THREADS == 1:
            break

    app_engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        set_based = []
        for _ in range(RAW_REPEAT):  # short, so the median of a few (the machine may be busy)
            set_based.append(_run_raw(app_engine, due, len(due)))
            assert _outcome(owner) == expected, _outcome(owner)
            raw_shape = _shape(owner)
            _restore(owner)
        runs["raw SQL, set-based"] = statistics.median(set_based)
        runs["raw SQL, 100 per tx"] = _run_raw(app_engine, due, 100)
        assert _outcome(owner) == expected, _outcome(owner)
        _restore(owner)
        sample = due[:PER_ROW_SAMPLE]  # a row at a time is slow: a rate from a sample
        seconds = _run_raw(app_engine, sample, 1)
        runs["raw SQL, 1 per tx" + (", sampled" if len(sample) < len(due) else "")] = (
            seconds * len(due) / len(sample)
        )
        assert _outcome(owner) == _expected(len(due), len(sample)), _outcome(owner)
        _restore(owner)
    finally:
        app_engine.dispose()

    differ = orm_shape ^ raw_shape
    print(
        "  the raw statement writes the rows the job writes: "
        + ("yes" if not differ else f"NO, these differ: {sorted(differ)}")
    )
    raw = runs["raw SQL, set-based"]
    print(f"\n  {'path':<28}{'seconds':>9}{'referrals/s':>13}{'vs set-based':>14}")
    for label, seconds in runs.items():
        print(f"  {label:<28}{seconds:>9.2f}{len(due) / seconds:>13,.0f}{seconds / raw:>13.1f}x")
    print(f"\nload average after: {_load()}  (other work on this machine skews the figures)")
    print(
        "\ngoals (printed, not asserted):\n"
        f"  selection cost follows the due rows: 0% due is {none_s * 1000:.2f} ms against "
        f"{full * 1000:.0f} ms for a table read   "
        f"{'holds' if none_s < full / 10 else 'MISSED'}"
    )
    for label, seconds in runs.items():
        if label.startswith("ORM"):
            verdict = "holds" if seconds / raw <= GOAL_RATIO else "MISSED"
            print(
                f"  {label:<28} {seconds / raw:6.1f}x the set-based UPDATE  "
                f"<= {GOAL_RATIO:g}x   {verdict}"
            )
