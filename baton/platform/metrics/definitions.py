"""Every governance metric, defined once: its formula, numerator, denominator and clocks.

A metric is a function of one group's ``Sums`` (rollup columns summed over the period for
that group) and returns a ``Value``. The same functions serve the district dashboard, the
governance pack, the equity signals and the county view; ``docs/metrics.md`` lists them.

Periods and cohorts: rollups are weekly (weeks start Monday, UTC). A *month* is the weeks
whose Monday falls in it, so months never overlap. Referral metrics are by *cohort*: a
referral belongs to the week it was sent in (its first ``sent`` event), and every later
happening (attendance, a no-show, a bounce) is credited to that cohort. Bounce reasons,
escalations and crisis events are by the week they happened in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from baton.platform.metrics.percentiles import percentile


@dataclass
class Sums:
    """One group's rollup sums over a period: cohort counts, duration histograms
    ({measure: {bucket: referrals}}), cases ({(kind, action, outcome): n}) and status events
    ({(to_status, reason): n})."""

    cohort: dict[str, int] = field(default_factory=dict)
    durations: dict[str, dict[int, int]] = field(default_factory=dict)
    cases: dict[tuple[str, str, str], int] = field(default_factory=dict)
    events: dict[tuple[str, str], int] = field(default_factory=dict)

    def c(self, name: str) -> int:
        return self.cohort.get(name, 0)

    def add(self, other: Sums) -> Sums:
        for name, n in other.cohort.items():
            self.cohort[name] = self.cohort.get(name, 0) + n
        for measure, buckets in other.durations.items():
            mine = self.durations.setdefault(measure, {})
            for bucket, n in buckets.items():
                mine[bucket] = mine.get(bucket, 0) + n
        for store, more in ((self.cases, other.cases), (self.events, other.events)):
            for key, n in more.items():
                store[key] = store.get(key, 0) + n
        return self


@dataclass(frozen=True)
class Value:
    """A metric's value for one group. Rates carry their numerator and denominator (the
    counts suppression and the equity test work on); ``value`` is None when undefined."""

    value: float | int | None
    numerator: int | None = None
    denominator: int | None = None


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    kind: str  # count | rate | hours | days
    compute: Callable[[Sums], Value]
    equity: bool = False  # a drop-off rate the equity signals test
    reads: tuple[str, ...] = ("cohorts",)  # the rollup tables (of Sums) it is computed from

    @property
    def formula(self) -> str:
        return " ".join((self.compute.__doc__ or "").split())


METRICS: dict[str, Metric] = {}


def metric(key: str, label: str, kind: str, *, equity: bool = False, reads=("cohorts",)):
    def register(func: Callable[[Sums], Value]) -> Callable[[Sums], Value]:
        METRICS[key] = Metric(key, label, kind, func, equity, tuple(reads))
        return func

    return register


def _rate(numerator: int, denominator: int) -> Value:
    return Value(numerator / denominator if denominator else None, numerator, denominator)


# ---------------------------------------------------------------- volume and the funnel


@metric("referrals", "Referrals sent", "count")
def referrals(s: Sums) -> Value:
    """Referrals sent in the period: count of referrals whose first sent event falls in a
    week of the period (drafts and entered-in-error referrals excluded). Broken down by
    tier, this is referral volume by tier."""
    return Value(s.c("sent"))


@metric("received", "Received by the provider", "rate", equity=True)
def received(s: Sums) -> Value:
    """Numerator: referrals of the period's cohorts the provider answered (received,
    accepted, declined or redirected, or any later stage). Denominator: referrals sent."""
    return _rate(s.c("received"), s.c("sent"))


@metric("accepted", "Accepted", "rate", equity=True)
def accepted(s: Sums) -> Value:
    """Numerator: referrals of the cohorts that reached accepted or any later stage
    (scheduled, no-show, attended, engaged). Denominator: referrals received."""
    return _rate(s.c("accepted"), s.c("received"))


@metric("scheduled", "Scheduled", "rate", equity=True)
def scheduled(s: Sums) -> Value:
    """Numerator: referrals of the cohorts with an intake ever scheduled (scheduled or
    no-show or attended). Denominator: referrals accepted."""
    return _rate(s.c("scheduled"), s.c("accepted"))


@metric("attended", "First appointment attended", "rate", equity=True)
def attended(s: Sums) -> Value:
    """Numerator: referrals of the cohorts whose first appointment was attended (a
    first-appointment-attended or engaged event). Denominator: referrals scheduled."""
    return _rate(s.c("attended"), s.c("scheduled"))


@metric("connected", "Sent to attended (conversion)", "rate", equity=True)
def connected(s: Sums) -> Value:
    """End-to-end conversion. Numerator: referrals of the cohorts whose first appointment
    was attended. Denominator: referrals sent."""
    return _rate(s.c("attended"), s.c("sent"))


@metric("engaged_30d", "Engaged at 30 days", "rate", equity=True)
def engaged_30d(s: Sums) -> Value:
    """Numerator: referrals whose status 30 days after sending (the last event at or before
    sent + 30 days) was engaged. Denominator: referrals sent at least 30 days ago (matured);
    younger referrals count in neither until their 30 days are up."""
    return _rate(s.c("engaged_30d"), s.c("matured_30d"))


# ---------------------------------------------------------------- time to contact / care


def _percentiles(s: Sums, measure: str) -> Value:
    histogram = s.durations.get(measure, {})
    return Value(percentile(histogram, 50), sum(histogram.values()))


@metric(
    "first_contact_median", "Time to first contact, median (hours)", "hours", reads=("durations",)
)
def first_contact_median(s: Sums) -> Value:
    """Clock starts when the referral is sent; stops at the first contact attempt that
    reached the family (contact confirmed). Median over the cohorts' referrals with a
    confirmed contact, read from fixed hour buckets (1, 2, 4, 8, 12, 24, 48, 72, 120, 168,
    336, 720; the value shown is the upper edge of the bucket holding the median)."""
    return _percentiles(s, "first-contact-hours")


@metric(
    "first_contact_p90",
    "Time to first contact, 90th percentile (hours)",
    "hours",
    reads=("durations",),
)
def first_contact_p90(s: Sums) -> Value:
    """As the median, at the 90th percentile: the upper edge of the hour bucket holding the
    referral ranked ceil(0.9 n)."""
    histogram = s.durations.get("first-contact-hours", {})
    return Value(percentile(histogram, 90), sum(histogram.values()))


@metric(
    "first_appointment_median",
    "Time to first appointment, median (days)",
    "days",
    reads=("durations",),
)
def first_appointment_median(s: Sums) -> Value:
    """Clock starts when the referral is sent; stops when the first appointment is reported
    attended (the first-appointment-attended event). Median over the cohorts' referrals that
    attended, from fixed day buckets (1, 2, 3, 5, 7, 10, 14, 21, 28, 42, 60, 90)."""
    return _percentiles(s, "first-appointment-days")


@metric(
    "first_appointment_p90",
    "Time to first appointment, 90th percentile (days)",
    "days",
    reads=("durations",),
)
def first_appointment_p90(s: Sums) -> Value:
    """As the median, at the 90th percentile (upper edge of the day bucket holding the
    referral ranked ceil(0.9 n))."""
    histogram = s.durations.get("first-appointment-days", {})
    return Value(percentile(histogram, 90), sum(histogram.values()))


# ---------------------------------------------------------------- outcomes


@metric("no_show_rate", "No-show rate (first appointment)", "rate", equity=True)
def no_show_rate(s: Sums) -> Value:
    """Numerator: referrals of the cohorts whose first recorded appointment outcome was a
    no-show. Denominator: referrals with a first appointment outcome (no-show or attended)."""
    return _rate(s.c("no_shows"), s.c("appointment_outcomes"))


@metric("continuity_30d", "30-day continuity", "rate", equity=True)
def continuity_30d(s: Sums) -> Value:
    """Care initiated and still active a month later. Numerator: referrals whose status 30
    days after the first attended appointment was scheduled, first-appointment-attended,
    engaged or closed-completed. Denominator: referrals of the cohorts whose first
    appointment was attended at least 30 days ago."""
    return _rate(s.c("continuing_30d"), s.c("attended_matured_30d"))


@metric("repeat_rate", "Repeat referrals (same student)", "rate")
def repeat_rate(s: Sums) -> Value:
    """Numerator: referrals of the cohorts for a student who already had an earlier sent
    referral (any provider, any time). Denominator: referrals sent."""
    return _rate(s.c("repeats"), s.c("sent"))


@metric("bounce_rate", "Bounce rate", "rate", equity=True)
def bounce_rate(s: Sums) -> Value:
    """Numerator: referrals of the cohorts that bounced at least once (day-3 no contact or
    a navigator's bounce). Denominator: referrals sent. Reasons: see bounces_by_reason."""
    return _rate(s.c("bounced"), s.c("sent"))


@metric("bounces", "Bounces recorded", "count", reads=("events",))
def bounces(s: Sums) -> Value:
    """Bounce events in the weeks of the period (by the week they happened, any cohort)."""
    return Value(sum(n for (status, _r), n in s.events.items() if status == "bounced"))


# ---------------------------------------------------------------- escalations and crises


def _cases(s: Sums, *, crisis: bool, action: str, outcome: str | None = None) -> int:
    return sum(
        n
        for (kind, act, out), n in s.cases.items()
        if (kind == "crisis") == crisis and act == action and outcome in (None, out)
    )


@metric("escalations_opened", "Escalations opened", "count", reads=("cases",))
def escalations_opened(s: Sums) -> Value:
    """Escalations (manual, contact-overdue, high-need-unscheduled) opened in the weeks of
    the period, by the week they were opened."""
    return Value(_cases(s, crisis=False, action="opened"))


@metric("escalations_closed", "Escalations closed", "count", reads=("cases",))
def escalations_closed(s: Sums) -> Value:
    """Escalations closed in the weeks of the period, by the week they closed."""
    return Value(_cases(s, crisis=False, action="closed"))


@metric("escalations_connected", "Escalations closed: connected", "rate", reads=("cases",))
def escalations_connected(s: Sums) -> Value:
    """How escalations closed. Numerator: escalations closed in the period because the
    family connected (resolution connected). Denominator: escalations closed in the period;
    the rest closed with an alternative plan."""
    return _rate(
        _cases(s, crisis=False, action="closed", outcome="connected"),
        _cases(s, crisis=False, action="closed"),
    )


@metric("crisis_events", "Crisis events (tier C)", "count", reads=("cases",))
def crisis_events(s: Sums) -> Value:
    """Crisis records (tier C concerns on the crisis pathway) opened in the weeks of the
    period, by the week they were opened."""
    return Value(_cases(s, crisis=True, action="opened"))


@metric("crisis_notified", "Crises closed with the caregiver notified", "rate", reads=("cases",))
def crisis_notified(s: Sums) -> Value:
    """Numerator: crisis records closed in the period whose caregiver notification was
    recorded. Denominator: crisis records closed in the period."""
    return _rate(
        _cases(s, crisis=True, action="closed", outcome="caregiver-notified"),
        _cases(s, crisis=True, action="closed"),
    )


FUNNEL = ("referrals", "received", "accepted", "scheduled", "attended", "engaged_30d")
FUNNEL_COUNTS = (
    ("sent", "Sent"),
    ("received", "Received"),
    ("accepted", "Accepted"),
    ("scheduled", "Scheduled"),
    ("attended", "First appointment attended"),
    ("engaged_30d", "Engaged at 30 days"),
)


def evaluate(sums: Sums, keys=None) -> dict[str, Value]:
    """Every metric (or those of ``keys``) for one group."""
    return {key: METRICS[key].compute(sums) for key in keys or METRICS}


def tables_read(keys) -> tuple[str, ...]:
    """The rollup tables the metrics ``keys`` are computed from."""
    return tuple(dict.fromkeys(t for key in keys for t in METRICS[key].reads))


def bounce_reasons(sums: Sums) -> dict[str, int]:
    """Bounce events of the period per reason (reasons from lifecycle.BOUNCE_REASONS)."""
    found: dict[str, int] = {}
    for (status, reason), n in sums.events.items():
        if status == "bounced":
            found[reason or "unrecorded"] = found.get(reason or "unrecorded", 0) + n
    return found
