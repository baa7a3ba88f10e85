"""The calendar month, one type for every service: `Month` is an integer (`year * 12 + month - 1`), so
month arithmetic across years is integer arithmetic and a month keys a counter cheaply, with the
conversions to and from its label (`2013-10`) and its days."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import date, datetime

_LABEL = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class Month(int):
    """A calendar month. `Month.parse("2013-10")`, `Month.of(day)`, `m + 1` is an int: `m.shift(1)` a Month."""

    __slots__ = ()

    @classmethod
    def of(cls, day: date | datetime) -> Month:
        """The month a date (or a datetime, in its own offset) falls in."""
        return cls(day.year * 12 + day.month - 1)

    @classmethod
    def parse(cls, label: str) -> Month:
        """'2013-10' -> Month. Raises ValueError naming the expected form."""
        match = _LABEL.match(label)
        if match is None:
            raise ValueError(f"month {label!r} must look like YYYY-MM")
        return cls(int(match.group(1)) * 12 + int(match.group(2)) - 1)

    @property
    def year(self) -> int:
        return int(self) // 12

    @property
    def number(self) -> int:
        """1 for January … 12 for December."""
        return int(self) % 12 + 1

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"

    def first_day(self) -> date:
        return date(self.year, self.number, 1)

    def last_day(self) -> date:
        return date(self.year, self.number, calendar.monthrange(self.year, self.number)[1])

    def shift(self, months: int) -> Month:
        return Month(int(self) + months)

    def through(self, last: Month) -> Iterator[Month]:
        """This month and every one up to `last`, both included."""
        return (Month(m) for m in range(int(self), int(last) + 1))

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"Month({self.label!r})"


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    month = Month.of(day).shift(months)
    return date(month.year, month.number, min(day.day, calendar.monthrange(month.year, month.number)[1]))
