"""Working days in England and Wales: weekdays that are not bank holidays.

Bank holidays come from the `holidays` package (country GB, subdivision ENG: England and Wales
share the same bank holidays), never from a hand-typed list. Substitute days (a Christmas that
falls on a Saturday moves to the Monday) are part of that calendar.

Convention: a timescale of N working days starts the day after the date it runs from, so a
complaint received on Friday 4 October 2013 with 10 working days is due on Friday 18 October.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays


class WorkingCalendar:
    def __init__(self, extra_closures: Iterable[date] = ()) -> None:
        """`extra_closures`: further non-working days a council may declare (none by default)."""
        self._bank_holidays = holidays.country_holidays("GB", subdiv="ENG")
        self._extra = frozenset(extra_closures)

    def bank_holiday(self, day: date) -> str | None:
        """The bank holiday's name on `day`, if it is one."""
        return self._bank_holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._bank_holidays and day not in self._extra

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (`start` itself is not counted)."""
        if days < 0:
            raise ValueError("a timescale cannot be negative")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days fall after `start` up to and including `end` (0 if end <= start)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count
