"""Months, windows and working days. Pure: the caller says what "today" is."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from functools import lru_cache

import holidays

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(month: str) -> tuple[int, int]:
    match = _MONTH.match(month)
    if match is None:
        raise ValueError(f"month {month!r} must look like YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_start(month: str) -> date:
    year, mon = parse_month(month)
    return date(year, mon, 1)


def month_end(month: str) -> date:
    year, mon = parse_month(month)
    return date(year, mon, calendar.monthrange(year, mon)[1])


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, mon = divmod(index, 12)
    mon += 1
    return date(year, mon, min(day.day, calendar.monthrange(year, mon)[1]))


def shift_month(month: str, months: int) -> str:
    return month_of(add_months(month_start(month), months))


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included."""
    out, current = [], first
    while current <= last:
        out.append(current)
        current = shift_month(current, 1)
    return out


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share their bank holidays; the `holidays` package files them under ENG.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def first_working_day(month: str) -> date:
    day = month_start(month)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def financial_year(year: int, start_month: int) -> tuple[str, str, str]:
    """(label, first month, last month) of the year starting in `start_month` of `year`."""
    first = f"{year:04d}-{start_month:02d}"
    last = shift_month(first, 11)
    label = str(year) if start_month == 1 else f"{year}-{(year + 1) % 100:02d}"
    return label, first, last
