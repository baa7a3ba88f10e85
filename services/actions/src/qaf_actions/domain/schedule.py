"""When the Board meets and when its digest is due: N working days before the Board date.

Working days are those of England and Wales (`qaf_shared.calendar`). The Board meets monthly: on
explicitly configured dates, or by rule (e.g. the third Thursday).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from qaf_shared.calendar import ENGLAND_AND_WALES
from qaf_shared.months import Month


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
        return ENGLAND_AND_WALES.on_or_after(candidates[-1] if self.week == -1 else candidates[self.week - 1])

    def issue_date(self, year: int, month: int) -> date:
        return ENGLAND_AND_WALES.working_days_before(self.board_date(year, month), self.working_days_before)

    def period_for(self, as_of: date) -> str:
        """The Board period a digest as of this date serves: the next Board on or after it."""
        month = Month.of(as_of)
        return (month if self.board_date(month.year, month.number) >= as_of else month.shift(1)).label

    def due_periods(self, since: date, today: date) -> Iterable[tuple[str, date, date]]:
        """(period, issue date, board date) of each Board whose digest fell due in [since, today]."""
        for month in Month.of(since).through(Month.of(today)):
            issue = self.issue_date(month.year, month.number)
            if since <= issue <= today:
                yield month.label, issue, self.board_date(month.year, month.number)

    def board_date_of(self, period: str) -> date:
        """The Board date of a period written YYYY-MM."""
        month = Month.parse(period)
        return self.board_date(month.year, month.number)
