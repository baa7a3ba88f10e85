"""When the scheduled monthly run is due: on the first working day of the month (or after, if missed)."""

from __future__ import annotations

from collections.abc import Container
from datetime import date

from qaf_shared.calendar import ENGLAND_AND_WALES
from qaf_shared.months import Month


def first_working_day(month: str) -> date:
    """The first day of `month` ("YYYY-MM") that is neither a weekend nor an England and Wales bank holiday."""
    return ENGLAND_AND_WALES.on_or_after(Month.parse(month).first_day())


def run_due(today: date, drawn_months: Container[str]) -> tuple[str, date] | None:
    """(month, as of) to draw now, or None. A run missed on its day (service down) is caught up later
    in the month, still as of the first working day."""
    month = Month.of(today).label
    as_of = first_working_day(month)
    if today >= as_of and month not in drawn_months:
        return month, as_of
    return None
