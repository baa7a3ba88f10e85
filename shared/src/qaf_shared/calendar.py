"""Calendar vocabulary every service shares: working days in England and Wales, and the local date.

Bank holidays come from the `holidays` package (country GB, subdivision ENG: England and Wales share
theirs), never from a hand-typed list; substitute days (a Christmas on a Saturday moves to the Monday)
are part of it. Calendar dates are taken in Europe/London: an event at 23:30 UTC on a summer evening
happened the next day in England.

Convention: N working days after a date start counting the day after it, so 10 working days from
Friday 4 October 2013 is Friday 18 October.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


def local_date(moment: datetime) -> date:
    """The date in England at `moment` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("a moment without a time zone has no date in England")
    return moment.astimezone(LONDON).date()


@lru_cache(maxsize=128)
def _bank_holidays(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("GB", subdiv="ENG", years=year))


class WorkingCalendar:
    """Weekdays that are not bank holidays in England and Wales (nor a closure the council declares)."""

    def __init__(self, extra_closures: Iterable[date] = ()) -> None:
        self._extra = frozenset(extra_closures)

    def bank_holiday(self, day: date) -> str | None:
        """The bank holiday's name on `day`, if it is one."""
        return _bank_holidays(day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _bank_holidays(day.year) and day not in self._extra

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (`start` itself is not counted)."""
        if days < 0:
            raise ValueError("a timescale cannot be negative")
        current, remaining = start, days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_before(self, day: date, days: int) -> date:
        """The date `days` working days before `day` (`day` itself is not counted)."""
        current, remaining = day, days
        while remaining > 0:
            current -= timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when `end` is not after `start`)."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def on_or_after(self, day: date) -> date:
        """`day` if it is a working day, else the next one."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


ENGLAND_AND_WALES = WorkingCalendar()
