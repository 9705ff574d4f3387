"""School-calendar arithmetic for the time standards: weekends and holidays may not count."""

from __future__ import annotations

from datetime import date, datetime, timedelta


def advance(
    start: datetime,
    delta: timedelta,
    *,
    count_weekends: bool = True,
    count_holidays: bool = True,
    holidays: frozenset[date] = frozenset(),
) -> datetime:
    """``start + delta``, with each day that does not count (a weekend day, a school
    holiday) passed over: the deadline moves one day later for every such day it spans,
    and never lands on one."""

    def skipped(day: date) -> bool:
        return (not count_weekends and day.weekday() >= 5) or (
            not count_holidays and day in holidays
        )

    end = start + delta
    day = start.date()
    while day < end.date():
        day += timedelta(days=1)
        if skipped(day):
            end += timedelta(days=1)
    while skipped(end.date()):
        end += timedelta(days=1)
    return end


def parse_holidays(values: list[str] | None) -> frozenset[date]:
    return frozenset(date.fromisoformat(v) for v in values or [])
