"""Metric rollups: the incremental path equals a plain-Python recount of the same events
(property-based, with events committing out of order around the watermark), the reconcile
counts late events and corrects drift, and county rows are the sums of their districts'."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import flask_migrate
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, insert, select, update

from baton.platform.app import create_app
from baton.platform.errors import Forbidden
from baton.platform.extensions import db
from baton.platform.models import (
    CaseRollup,
    CohortRollup,
    County,
    CountyCaseRollup,
    CountyCohortRollup,
    CountyDurationRollup,
    CountyRollup,
    DistrictRollup,
    DurationRollup,
    ProviderOrg,
    Referral,
    ReferralEvent,
    RollupWatermark,
    School,
    Student,
    Tenant,
)
from baton.platform.models.base import travel_to
from baton.platform.models.cohorts import COHORT_COUNTS
from baton.platform.services import cohorts, rollups
from baton.tenants.context import Principal, acting_as, system_scope
from baton.tenants.scoping import scoped
from baton.workers.jobs.rollups import reconcile_rollups, roll_up_new_events
from tests.conftest import base_config

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday
LAG = rollups.SAFETY_LAG
MINUTE = 60
LANGUAGES = ("en", "es", "vi")
GRADES = ("K", "3", "8", "11")
STATUSES = (
    "sent",
    "received",
    "accepted",
    "scheduled",
    "no-show",
    "first-appointment-attended",
    "engaged",
    "bounced",
    "closed-completed",
)
# Districts 0 and 1 share county 0; district 2 is alone in county 1.
COUNTY_OF_DISTRICT = (0, 0, 1)
PER_EVENT_TABLES = (
    "district_rollups",
    "county_rollups",
    "rollup_watermarks",
    "referral_facts",
    "cohort_rollups",
    "county_cohort_rollups",
    "duration_rollups",
    "county_duration_rollups",
    "case_rollups",
    "county_case_rollups",
)
TWINS = (
    (DistrictRollup, CountyRollup),
    (CohortRollup, CountyCohortRollup),
    (DurationRollup, CountyDurationRollup),
    (CaseRollup, CountyCaseRollup),
)


# ---------------------------------------------------------------- test data, as the owner


@pytest.fixture
def skeleton(owner_engine):
    """Counties, districts, schools and providers, inserted in bulk by the owner."""
    with owner_engine.begin() as conn:
        return build_skeleton(conn)


def build_skeleton(conn) -> SimpleNamespace:
    counties = [uuid.uuid4() for _ in range(2)]
    tenants = [uuid.uuid4() for _ in COUNTY_OF_DISTRICT]
    schools = [[uuid.uuid4() for _ in range(2)] for _ in tenants]
    providers = [uuid.uuid4() for _ in range(2)]
    conn.execute(
        insert(County.__table__),
        [{"id": c, "name": f"County {n}", "slug": f"county-{n}"} for n, c in enumerate(counties)],
    )
    conn.execute(
        insert(Tenant.__table__),
        [
            {"id": t, "county_id": counties[c], "name": f"District {n}", "slug": f"district-{n}"}
            for n, (t, c) in enumerate(zip(tenants, COUNTY_OF_DISTRICT, strict=True))
        ],
    )
    conn.execute(
        insert(School.__table__),
        [
            {"tenant_id": t, "id": s, "name": f"School {s}", "code": f"S{k}"}
            for t, ss in zip(tenants, schools, strict=True)
            for k, s in enumerate(ss)
        ],
    )
    conn.execute(
        insert(ProviderOrg.__table__),
        [
            {"id": p, "name": f"Provider {n}", "slug": f"provider-{n}"}
            for n, p in enumerate(providers)
        ],
    )
    county_of = {t: counties[c] for t, c in zip(tenants, COUNTY_OF_DISTRICT, strict=True)}
    return SimpleNamespace(
        tenants=tenants, schools=schools, providers=providers, county_of=county_of
    )


@dataclass(frozen=True)
class Ev:
    id: uuid.UUID
    tenant_id: uuid.UUID
    referral_id: uuid.UUID
    seq: int
    at: datetime
    to_status: str
    reason: str | None = None


class Stream:
    """Students, referrals and events written by the owner, remembered for the recount."""

    def __init__(self, sk: SimpleNamespace):
        self.sk = sk
        self.students: dict[uuid.UUID, dict] = {}
        self.referrals: dict[uuid.UUID, dict] = {}
        self.events: list[Ev] = []
        self.seq: Counter = Counter()

    def add_students(self, conn, specs) -> list[uuid.UUID]:
        rows = []
        for n, (district, school, language, iep, grade) in enumerate(specs):
            tenant_id = self.sk.tenants[district]
            row = {
                "tenant_id": tenant_id,
                "id": uuid.uuid4(),
                "local_id": f"L{len(self.students) + n}",
                "first_name": "Stu",
                "last_name": f"Dent{n}",
                "birth_date": date(2012, 1, 1),
                "grade": grade,
                "school_id": self.sk.schools[district][school],
                "preferred_language": language,
                "disability_or_iep": iep,
            }
            rows.append(row)
            self.students[row["id"]] = row
        conn.execute(insert(Student.__table__), rows)
        return [r["id"] for r in rows]

    def add_referrals(self, conn, student_ids, specs) -> list[uuid.UUID]:
        rows = []
        for student, provider, tier, *sent in specs:
            student_id = student_ids[student]
            sent_minutes, contact_hours = sent or [None, None]
            sent_at = None if sent_minutes is None else T0 + timedelta(minutes=sent_minutes)
            contact = None
            if sent_at is not None and contact_hours is not None:
                contact = sent_at + timedelta(hours=contact_hours)
            row = {
                "tenant_id": self.students[student_id]["tenant_id"],
                "id": uuid.uuid4(),
                "student_id": student_id,
                "provider_id": self.sk.providers[provider],
                "tier": tier,
                "intake_route": "portal",
                "status": "sent",
                "sent_at": sent_at,
                "contact_confirmed_at": contact,
            }
            rows.append(row)
            self.referrals[row["id"]] = row
        conn.execute(insert(Referral.__table__), rows)
        return [r["id"] for r in rows]

    def add_events(self, conn, specs) -> list[Ev]:
        """specs: (referral_id, to_status, at, id bits); ids ordered by the bits, then unique."""
        made = []
        for referral_id, to_status, at, bits in specs:
            self.seq[referral_id] += 1
            made.append(
                Ev(
                    id=uuid.UUID(int=(bits << 32) | len(self.events) + len(made)),
                    tenant_id=self.referrals[referral_id]["tenant_id"],
                    referral_id=referral_id,
                    seq=self.seq[referral_id],
                    at=at,
                    to_status=to_status,
                    # bounce reasons: one from the taxonomy, one that is not (never kept)
                    reason=(("bad-contact-info", "free text")[bits % 2])
                    if to_status == "bounced"
                    else None,
                )
            )
        conn.execute(
            insert(ReferralEvent.__table__),
            [
                {**vars(e), "actor_kind": "provider", "surface": "api", "from_status": None}
                for e in made
            ],
        )
        self.events.extend(made)
        return made

    def event(self, event_id: uuid.UUID) -> Ev:
        return next(e for e in self.events if e.id == event_id)

    # ------------------------------------------------------------ the recount, in Python

    def recount(self, skip: set[uuid.UUID] = frozenset()) -> dict[tuple, int]:
        counts: Counter = Counter()
        for e in self.events:
            if e.id in skip:
                continue
            referral = self.referrals[e.referral_id]
            student = self.students[referral["student_id"]]
            counts[
                (
                    e.tenant_id,
                    week(e.at),
                    student["school_id"],
                    referral["provider_id"],
                    referral["tier"],
                    student["preferred_language"],
                    student["disability_or_iep"],
                    student["grade"],
                    e.to_status,
                    "bad-contact-info" if e.reason == "bad-contact-info" else "",
                )
            ] += 1
        return dict(counts)

    def facts(self, now: datetime) -> dict[uuid.UUID, dict]:
        """What became of each sent referral, worked out from the events in plain Python."""
        out = {}
        for rid, r in self.referrals.items():
            if r["sent_at"] is None:
                continue
            evs = sorted(
                (e for e in self.events if e.referral_id == rid), key=lambda e: (e.at, e.seq)
            )

            def first(status, evs=evs):
                return min((e.at for e in evs if e.to_status == status), default=None)

            def status_at(moment, evs=evs):
                before = [e for e in evs if e.at <= moment]
                return before[-1].to_status if before else None

            sent, attended, no_show = (
                r["sent_at"],
                first("first-appointment-attended"),
                first("no-show"),
            )
            month = timedelta(days=30)
            outcome = None
            if attended or no_show:
                outcome = (
                    "no-show"
                    if attended is None or (no_show and no_show < attended)
                    else "attended"
                )
            earlier = [
                o
                for o in self.referrals.values()
                if o["student_id"] == r["student_id"]
                and o["sent_at"] is not None
                and (o["sent_at"], o["id"]) < (sent, rid)
            ]
            out[rid] = {
                "stage": max((cohorts.STAGE_OF.get(e.to_status, 0) for e in evs), default=0),
                "contact": r["contact_confirmed_at"],
                "attended": attended,
                "outcome": outcome,
                "bounced": any(e.to_status == "bounced" for e in evs),
                "repeat": bool(earlier),
                "engaged": status_at(sent + month) == "engaged" if sent + month <= now else None,
                "continuing": status_at(attended + month) in cohorts.CONTINUING
                if attended and attended + month <= now
                else None,
            }
        return out

    def dims(self, rid) -> tuple:
        r = self.referrals[rid]
        s = self.students[r["student_id"]]
        return (
            r["tenant_id"],
            week(r["sent_at"]),
            s["school_id"],
            r["provider_id"],
            r["tier"],
            s["preferred_language"],
            s["disability_or_iep"],
            s["grade"],
        )

    def cohort_recount(self, now: datetime) -> dict[tuple, tuple]:
        counts: dict[tuple, Counter] = {}
        for rid, f in self.facts(now).items():
            c = counts.setdefault(self.dims(rid), Counter())
            c["sent"] += 1
            for n, name in enumerate(("received", "accepted", "scheduled", "attended"), start=1):
                c[name] += f["stage"] >= n
            c["contacted"] += f["contact"] is not None
            c["appointment_outcomes"] += f["outcome"] is not None
            c["no_shows"] += f["outcome"] == "no-show"
            c["bounced"] += f["bounced"]
            c["repeats"] += f["repeat"]
            c["matured_30d"] += f["engaged"] is not None
            c["engaged_30d"] += bool(f["engaged"])
            c["attended_matured_30d"] += f["continuing"] is not None
            c["continuing_30d"] += bool(f["continuing"])
        return {k: tuple(c[v] for v in COHORT_COUNTS) for k, c in counts.items()}

    def duration_recount(self, now: datetime) -> dict[tuple, tuple]:
        counts: Counter = Counter()
        for rid, f in self.facts(now).items():
            sent = self.referrals[rid]["sent_at"]
            for measure, stop, unit in (
                ("first-contact-hours", f["contact"], 3600),
                ("first-appointment-days", f["attended"], 86400),
            ):
                if stop is not None:
                    value = (stop - sent).total_seconds() / unit
                    edges = cohorts.BUCKETS[measure]
                    bucket = next((e for e in edges if value <= e), -1)
                    counts[(*self.dims(rid), measure, bucket)] += 1
        return {k: (n,) for k, n in counts.items()}

    def county_twin(self, district: dict[tuple, tuple]) -> dict[tuple, tuple]:
        """District rows summed per county: (tenant, week, school, *rest) -> (county, week,
        tenant, *rest), values added column by column."""
        sums: dict[tuple, list] = {}
        for (tenant, wk, _school, *rest), values in district.items():
            key = (self.sk.county_of[tenant], wk, tenant, *rest)
            sums[key] = [
                a + b for a, b in zip(sums.get(key, [0] * len(values)), values, strict=True)
            ]
        return {k: tuple(v) for k, v in sums.items()}

    def county_sums(self, district: dict[tuple, int]) -> dict[tuple, int]:
        sums: Counter = Counter()
        for (tenant, week, _school, *rest), n in district.items():
            sums[(self.sk.county_of[tenant], week, tenant, *rest)] += n
        return dict(sums)


def read_values(conn, model) -> dict[tuple, tuple]:
    """Rows of a rollup table: key columns -> value columns (every non-key column)."""
    table = model.__table__
    keys = list(table.primary_key.columns)
    values = [c for c in table.columns if not c.primary_key]
    rows = conn.execute(select(*keys, *values))
    return {tuple(row[: len(keys)]): tuple(row[len(keys) :]) for row in rows}


def assert_county_twins_are_sums(conn, stream) -> None:
    for district, county in TWINS:
        assert read_values(conn, county) == stream.county_twin(read_values(conn, district))


def read_rollups(conn, model) -> dict[tuple, int]:
    table = model.__table__
    keys = [c for c in table.primary_key.columns]
    return {tuple(row[:-1]): row[-1] for row in conn.execute(select(*keys, table.c.events))}


def counted(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return sum(read_rollups(conn, DistrictRollup).values())


def week(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def read_watermark(conn):
    return conn.execute(
        select(RollupWatermark.at, RollupWatermark.event_id).where(
            RollupWatermark.name == rollups.WATERMARK
        )
    ).first()


def truncate_stream(conn) -> None:
    conn.exec_driver_sql(
        "TRUNCATE referral_events, referrals, students, " + ", ".join(PER_EVENT_TABLES) + " CASCADE"
    )


def run_job(app, at: datetime, job, *args):
    """A job as a worker runs it (the app role, its own transaction), at ``at``."""
    with app.app_context(), travel_to(at):
        return job(*args)


# ---------------------------------------------------------------- the property


def _students():
    return st.lists(
        st.tuples(
            st.integers(0, len(COUNTY_OF_DISTRICT) - 1),
            st.integers(0, 1),
            st.sampled_from(LANGUAGES),
            st.booleans(),
            st.sampled_from(GRADES),
        ),
        min_size=1,
        max_size=6,
    )


@st.composite
def scenarios(draw):
    students = draw(_students())
    referrals = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(students) - 1),
                st.integers(0, 1),
                st.sampled_from("AB"),
                st.one_of(st.none(), st.integers(-24 * 60, 3 * 24 * 60)),  # sent, minutes
                st.one_of(st.none(), st.integers(0, 800)),  # contact confirmed, hours
            ),
            min_size=1,
            max_size=8,
        )
    )
    on_time = st.integers(0, LAG.seconds // MINUTE - 1).map(lambda m: m * MINUTE)
    late = st.integers(LAG.seconds // MINUTE, 3 * 24 * 60).map(lambda m: m * MINUTE)
    an_event = st.tuples(
        st.integers(0, len(referrals) - 1),
        st.sampled_from(STATUSES),
        st.one_of(on_time, on_time, late),  # (delay before it commits)
        st.integers(0, 2**40),  # id bits: ties on ``at`` are broken by id
    )
    step = st.one_of(
        st.tuples(st.just("commit"), st.lists(an_event, min_size=1, max_size=10)),
        st.tuples(st.just("roll up"), st.integers(1, 25)),
        st.tuples(st.just("reconcile"), st.integers(1, 40)),  # (days)
    )
    # Mostly a few minutes, so commits land around the watermark; sometimes days.
    advance = st.one_of(st.integers(0, 10), st.integers(0, 2 * 24 * 60)).map(
        lambda m: timedelta(minutes=m)
    )
    steps = draw(st.lists(st.tuples(advance, step), min_size=1, max_size=15))
    return students, referrals, steps


# Interleavings worth checking on every run, besides the random ones.
ONE_STUDENT, ONE_REFERRAL = [(0, 0, "en", False, "K")], [(0, 0, "A", 0, 2)]
NOW, TEN_MINUTES, WEEK = timedelta(0), timedelta(minutes=10), timedelta(days=7)
EXAMPLES = {
    "a commit inside the lag, just behind a run": [
        (NOW, ("commit", [(0, "sent", 0, 1)])),
        (NOW, ("roll up", 5)),
        (NOW, ("commit", [(0, "received", 60, 2)])),
    ],
    "a reconcile while events wait ahead of the watermark": [
        (NOW, ("commit", [(0, "sent", 0, 1)])),
        (TEN_MINUTES, ("roll up", 5)),
        (NOW, ("commit", [(0, "received", 0, 2)])),
        (NOW, ("reconcile", 5)),
    ],
    "ties on at, split by the batch limit, late ones either side of the watermark": [
        (NOW, ("commit", [(0, "sent", 0, 5), (0, "received", 0, 3), (0, "accepted", 0, 9)])),
        (TEN_MINUTES, ("roll up", 1)),
        (NOW, ("roll up", 1)),
        (NOW, ("commit", [(0, "scheduled", 600, 4), (0, "closed-completed", 600, 7)])),
    ],
    "a late event in the first week of the reconcile window": [
        (timedelta(days=6), ("commit", [(0, "sent", 0, 1)])),
        (timedelta(days=1), ("roll up", 5)),
        (NOW, ("commit", [(0, "received", 5 * 24 * 3600, 2)])),
        (NOW, ("reconcile", 3)),
        (WEEK, ("roll up", 5)),
    ],
}


def _with_examples(test):
    for steps in EXAMPLES.values():
        test = example(scenario=(ONE_STUDENT, ONE_REFERRAL, steps))(test)
    return test


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
@_with_examples
def test_rollups_equal_a_recount_of_the_same_events(app, owner_engine, skeleton, scenario):
    """Events commit ``delay`` after their ``at``; runs count random batches. Every event
    that commits within the safety lag is counted exactly once by the incremental path; one
    that commits later is either counted once or (already behind the watermark) skipped; the
    reconcile then makes the rollups equal the recount of every event."""
    students, referral_specs, steps = scenario
    stream = Stream(skeleton)
    with owner_engine.begin() as conn:
        truncate_stream(conn)
        student_ids = stream.add_students(conn, students)
        referral_ids = stream.add_referrals(conn, student_ids, referral_specs)
    now, skipped, ever_skipped, on_time = T0, set(), set(), set()
    for advance, (kind, arg) in steps:
        now += advance
        if kind == "roll up":
            run_job(app, now, roll_up_new_events, arg)
            continue
        if kind == "reconcile":  # counts what it covers of the skipped, nothing ahead
            if counted(owner_engine) + len(skipped) < len(stream.events):
                event("reconciled with events ahead of the watermark")
            run_job(app, now, reconcile_rollups, arg)
            since = week(now - timedelta(days=arg))
            skipped = {e for e in skipped if week(stream.event(e).at) < since}
            continue
        with owner_engine.begin() as conn:
            mark = read_watermark(conn)
            specs = [(referral_ids[r], s, now - timedelta(seconds=d), b) for r, s, d, b in arg]
            for made, (_r, _s, delay, _b) in zip(stream.add_events(conn, specs), arg, strict=True):
                if delay < LAG.total_seconds():
                    on_time.add(made.id)
                if mark is not None and mark.at is not None and (made.at, made.id) <= tuple(mark):
                    skipped.add(made.id)
                    ever_skipped.add(made.id)
    event("some late events were skipped" if ever_skipped else "no event was skipped")
    assert not ever_skipped & on_time, "an event that committed within the safety lag was skipped"

    drained = max([now, *(e.at for e in stream.events)]) + LAG + timedelta(seconds=1)
    ahead = len(stream.events) - counted(owner_engine) - len(skipped)  # of the watermark
    assert run_job(app, drained, roll_up_new_events, 1000) == ahead
    assert run_job(app, drained, roll_up_new_events, 1000) == 0
    with owner_engine.connect() as conn:
        district = read_rollups(conn, DistrictRollup)
        county = read_rollups(conn, CountyRollup)
        assert_county_twins_are_sums(conn, stream)  # only touched groups were rebuilt
    assert district == stream.recount(skip=skipped)
    assert county == stream.county_sums(district)

    first = min([T0, *(e.at for e in stream.events)])
    run_job(app, drained, reconcile_rollups, (drained - first).days + 7)
    with owner_engine.connect() as conn:
        district = read_rollups(conn, DistrictRollup)
        county = read_rollups(conn, CountyRollup)
        assert read_values(conn, CohortRollup) == stream.cohort_recount(drained)
        assert read_values(conn, DurationRollup) == stream.duration_recount(drained)
        assert_county_twins_are_sums(conn, stream)
    assert district == stream.recount()
    assert county == stream.county_sums(stream.recount())


# ---------------------------------------------------------------- reconcile and counties


def _small_stream(owner_engine, skeleton) -> Stream:
    """Two weeks of events for students in every district."""
    stream = Stream(skeleton)
    with owner_engine.begin() as conn:
        students = stream.add_students(
            conn,
            [(d, d % 2, LANGUAGES[d], d == 1, GRADES[d]) for d in range(3)]
            + [(d, 1, "en", False, "K") for d in range(3)],
        )
        referrals = stream.add_referrals(
            conn,
            students,
            [
                (n, n % 2, "AB"[n % 2], n * 60, 5 * n if n % 2 else None)
                for n in range(len(students))
            ],
        )
        stream.add_events(
            conn,
            [
                (r, STATUSES[k % len(STATUSES)], T0 + timedelta(days=3 * k, hours=n), n * 7 + k)
                for n, r in enumerate(referrals)
                for k in range(5)
            ],
        )
    return stream


def test_reconcile_corrects_injected_drift(app, owner_engine, skeleton):
    stream = _small_stream(owner_engine, skeleton)
    later = T0 + timedelta(days=20)
    assert run_job(app, later, roll_up_new_events) == len(stream.events)
    expected = stream.recount()
    table = DistrictRollup.__table__
    victim, removed_key = sorted(expected)[:2]
    keys = list(table.primary_key.columns)
    bogus = {**{c.name: v for c, v in zip(keys, victim, strict=True)}, "to_status": "bogus"}
    with owner_engine.begin() as conn:  # as the owner: drift the app itself cannot cause
        conn.execute(
            update(table)
            .where(*(c == v for c, v in zip(keys, victim, strict=True)))
            .values(events=table.c.events + 5)
        )
        conn.execute(delete(table).where(*(c == v for c, v in zip(keys, removed_key, strict=True))))
        conn.execute(insert(table).values(**bogus, events=3))
        assert read_rollups(conn, DistrictRollup) != expected

    changed = run_job(app, later, reconcile_rollups, 35)

    # wrong count and bogus row removed; wrong count rewritten and deleted row restored
    assert (changed["district_removed"], changed["district_written"]) == (2, 2)
    with owner_engine.connect() as conn:
        assert read_rollups(conn, DistrictRollup) == expected
        assert read_rollups(conn, CountyRollup) == stream.county_sums(expected)
    again = run_job(app, later, reconcile_rollups, 35)
    assert again == {**dict.fromkeys(changed, 0), "facts_recomputed": changed["facts_recomputed"]}


def test_county_rollups_are_the_sums_of_their_districts(app, owner_engine, skeleton):
    stream = _small_stream(owner_engine, skeleton)
    run_job(app, T0 + timedelta(days=20), roll_up_new_events)
    with owner_engine.connect() as conn:
        district = read_rollups(conn, DistrictRollup)
        county = read_rollups(conn, CountyRollup)
    assert county == stream.county_sums(district)
    # Each county keeps its districts apart, and holds only its own districts.
    for county_id in set(skeleton.county_of.values()):
        districts = {key[2] for key in county if key[0] == county_id}
        assert districts == {t for t, c in skeleton.county_of.items() if c == county_id}
    assert sum(county.values()) == sum(district.values()) == len(stream.events)

    with owner_engine.begin() as conn:  # a county row drifts; the rebuild puts it back
        conn.execute(update(CountyRollup.__table__).values(events=CountyRollup.events + 1))
    with app.app_context(), system_scope("test: rebuild county rollups"):
        synced = rollups.rebuild_county_rollups(T0.date(), (T0 + timedelta(days=20)).date())
        db.session.commit()
    assert synced.removed == synced.written == len(county)
    with owner_engine.connect() as conn:
        assert read_rollups(conn, CountyRollup) == county


def test_late_event_is_counted_once_by_the_reconcile(app, owner_engine, skeleton):
    stream = _small_stream(owner_engine, skeleton)
    later = T0 + timedelta(days=20)
    run_job(app, later, roll_up_new_events)
    referral_id = next(iter(stream.referrals))
    with owner_engine.begin() as conn:  # committed long after its ``at``: behind the watermark
        stream.add_events(conn, [(referral_id, "accepted", T0 + timedelta(days=1), 1)])
    assert run_job(app, later + timedelta(minutes=10), roll_up_new_events) == 0
    with owner_engine.connect() as conn:
        assert read_rollups(conn, DistrictRollup) == stream.recount(skip={stream.events[-1].id})
    run_job(app, later + timedelta(minutes=10), reconcile_rollups, 35)
    run_job(app, later + timedelta(minutes=20), roll_up_new_events)
    with owner_engine.connect() as conn:
        assert read_rollups(conn, DistrictRollup) == stream.recount()


def test_events_inside_the_safety_lag_wait(app, owner_engine, skeleton):
    stream = _small_stream(owner_engine, skeleton)
    newest = max(e.at for e in stream.events)
    counted = run_job(app, newest + LAG - timedelta(seconds=1), roll_up_new_events)
    assert counted == len(stream.events) - 1
    assert run_job(app, newest + LAG, roll_up_new_events) == 1


def test_concurrent_runs_count_each_event_once(app, owner_engine, skeleton):
    stream = _small_stream(owner_engine, skeleton)
    later = T0 + timedelta(days=20)
    barrier, counted = threading.Barrier(4), []

    def worker():
        barrier.wait()
        while n := run_job(app, later, roll_up_new_events, 3):
            counted.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counted) == len(stream.events)
    with owner_engine.connect() as conn:
        assert read_rollups(conn, DistrictRollup) == stream.recount()


# ---------------------------------------------------------------- scope


def test_rollups_refuse_anything_but_a_system_scope(app, skeleton):
    district = Principal(kind="district", surface="ui", tenant_id=skeleton.tenants[0])
    with app.app_context(), acting_as(district), pytest.raises(Forbidden):
        rollups.apply_new_events()


def test_a_district_reads_only_its_own_rollups(app, owner_engine, skeleton):
    stream = _small_stream(owner_engine, skeleton)
    run_job(app, T0 + timedelta(days=20), roll_up_new_events)
    mine = skeleton.tenants[0]
    district = Principal(kind="district", surface="ui", tenant_id=mine)
    with app.app_context(), acting_as(district):
        through_orm = [r.tenant_id for r in db.session.scalars(scoped(DistrictRollup))]
        # A Core select skips the ORM criteria: row-level security still holds.
        through_core = db.session.execute(select(DistrictRollup.__table__.c.tenant_id)).scalars()
        through_core = list(through_core)
        db.session.rollback()
    expected = [k for k in stream.recount() if k[0] == mine]
    assert set(through_orm) == set(through_core) == {mine}
    assert len(through_orm) == len(through_core) == len(expected)


# ---------------------------------------------------------------- the embedded default


def test_rollups_on_sqlite(tmp_path):
    sqlite_app = create_app(base_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/r.db"))
    with sqlite_app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    engine = create_engine(f"sqlite:///{tmp_path}/r.db")
    try:
        with engine.begin() as conn:
            skeleton = build_skeleton(conn)
        stream = _small_stream(engine, skeleton)
        later = T0 + timedelta(days=20)
        assert run_job(sqlite_app, later, roll_up_new_events, 7) == 7
        for _ in range(len(stream.events) // 7):
            run_job(sqlite_app, later, roll_up_new_events, 7)
        assert run_job(sqlite_app, later, roll_up_new_events, 7) == 0
        with engine.connect() as conn:
            assert read_rollups(conn, DistrictRollup) == stream.recount()
        with engine.begin() as conn:
            conn.execute(update(DistrictRollup.__table__).values(events=99))
        run_job(sqlite_app, later, reconcile_rollups, 35)
        with engine.connect() as conn:
            assert read_rollups(conn, DistrictRollup) == stream.recount()
            assert read_rollups(conn, CountyRollup) == stream.county_sums(stream.recount())
            # The cohort rollups' date arithmetic in SQLite's dialect.
            assert read_values(conn, CohortRollup) == stream.cohort_recount(later)
            assert read_values(conn, DurationRollup) == stream.duration_recount(later)
            assert_county_twins_are_sums(conn, stream)
    finally:
        engine.dispose()
        with sqlite_app.app_context():
            db.engine.dispose()
