"""When the Board meets and when its digest is due: N working days before the Board date.

Working days skip weekends and the bank holidays of England and Wales (the `holidays` package).
The Board meets monthly: on explicitly configured dates, or by rule (e.g. the third Thursday).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in _bank_holidays(d.year)


def working_days_before(d: date, n: int) -> date:
    """The date n working days before d (d itself not counted)."""
    current = d
    left = n
    while left > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


@dataclass(frozen=True)
class BoardSchedule:
    """weekday: 0=Monday..6=Sunday; week: 1..4 for the nth such weekday of the month, -1 for the last.
    Explicit dates, when given, win for their months. A rule date on a bank holiday moves to the next
    working day."""

    weekday: int = 3
    week: int = 3
    working_days_before: int = 5
    explicit: tuple[date, ...] = ()

    def board_date(self, year: int, month: int) -> date:
        for d in self.explicit:
            if d.year == year and d.month == month:
                return d
        days = [date(year, month, day) for day in range(1, calendar.monthrange(year, month)[1] + 1)]
        candidates = [d for d in days if d.weekday() == self.weekday]
        d = candidates[-1] if self.week == -1 else candidates[self.week - 1]
        while not is_working_day(d):
            d += timedelta(days=1)
        return d

    def issue_date(self, year: int, month: int) -> date:
        return working_days_before(self.board_date(year, month), self.working_days_before)

    def period_for(self, as_of: date) -> str:
        """The Board period a digest as of this date serves: the next Board on or after it."""
        board = self.board_date(as_of.year, as_of.month)
        if board >= as_of:
            return f"{as_of.year:04d}-{as_of.month:02d}"
        nxt = date(as_of.year + (as_of.month == 12), as_of.month % 12 + 1, 1)
        return f"{nxt.year:04d}-{nxt.month:02d}"

    def due_periods(self, since: date, today: date) -> Iterable[tuple[str, date, date]]:
        """(period, issue date, board date) of each Board whose digest fell due in [since, today]."""
        y, m = since.year, since.month
        while date(y, m, 1) <= today:
            issue = self.issue_date(y, m)
            if since <= issue <= today:
                yield f"{y:04d}-{m:02d}", issue, self.board_date(y, m)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def period_bounds(period: str) -> tuple[int, int]:
    return int(period[:4]), int(period[5:])
