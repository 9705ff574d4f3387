"""Reporting periods over weekly rollups: a month is the weeks whose Monday falls in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from baton.platform.errors import InvalidInput

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str | None, today: date) -> Month:
        """``YYYY-MM``, or when empty the month holding this week (the month of this week's
        Monday, so the current week is always in it); InvalidInput otherwise."""
        if not text:
            this_week = monday(today)
            return cls(this_week.year, this_week.month)
        match = MONTH.match(text.strip())
        if not match or not 2000 <= int(match.group(1)) <= 2100:
            raise InvalidInput(fields={"month": "a month such as 2026-09"})
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def weeks(self) -> tuple[date, date]:
        """(first Monday, last Monday) of the weeks starting in this month."""
        first = date(self.year, self.month, 1)
        first += timedelta(days=(7 - first.weekday()) % 7)
        after = (
            date(self.year + 1, 1, 1) if self.month == 12 else date(self.year, self.month + 1, 1)
        )
        end = after - timedelta(days=1)
        return first, end - timedelta(days=end.weekday())


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())
