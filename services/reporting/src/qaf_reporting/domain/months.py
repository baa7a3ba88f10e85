"""Calendar months as integers, and rolling windows over them.

A month is held as one integer, `year * 12 + (month - 1)`, so that month arithmetic across year
boundaries is plain integer arithmetic. A rolling window of `w` months ending at `period_end` holds the
months `period_end - w + 1 .. period_end`, both included.
"""

from __future__ import annotations

import re
from datetime import date, datetime

WINDOWS: tuple[int, ...] = (1, 3, 6, 12)
_LABEL = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_of(day: date | datetime) -> int:
    """The month a date (or an aware datetime, taken in its own offset) falls in."""
    return day.year * 12 + day.month - 1


def parse_month(label: str) -> int:
    """'2013-10' -> month. Raises ValueError naming the expected form."""
    match = _LABEL.match(label)
    if match is None:
        raise ValueError(f"month {label!r} must look like YYYY-MM")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_label(month: int) -> str:
    year, index = divmod(month, 12)
    return f"{year:04d}-{index + 1:02d}"


def first_day(month: int) -> date:
    year, index = divmod(month, 12)
    return date(year, index + 1, 1)


def window_start(period_end: int, window_months: int) -> int:
    """First month of the rolling window of `window_months` months ending at `period_end`."""
    if window_months < 1:
        raise ValueError("a window holds at least one month")
    return period_end - window_months + 1


def window_months(period_end: int, window_months: int) -> range:
    return range(window_start(period_end, window_months), period_end + 1)


def period_ends_covering(month: int, window_months: int, latest: int) -> range:
    """The period ends whose window of `window_months` includes `month`, up to `latest` (included)."""
    return range(month, min(month + window_months - 1, latest) + 1)


def previous_period(period_end: int, window_months: int) -> int:
    """The end of the window just before this one (same length, no overlap)."""
    return period_end - window_months


def quarter_months(period_end: int) -> range:
    """The three months ending at `period_end` (the council's quarter need not be a calendar quarter)."""
    return window_months(period_end, 3)


def rate(count: int, denominator: int) -> float | None:
    """`count` per 100 of `denominator`, to two decimals; None when there is nothing to divide by."""
    if denominator <= 0:
        return None
    return round(100.0 * count / denominator, 2)
