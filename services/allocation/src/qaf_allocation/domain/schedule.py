"""When the scheduled monthly run is due: on the first working day of the month (or after, if missed)."""

from __future__ import annotations

from collections.abc import Container
from datetime import date

from qaf_allocation.domain.calendar import first_working_day, month_of


def run_due(today: date, drawn_months: Container[str]) -> tuple[str, date] | None:
    """(month, as of) to draw now, or None. A run missed on its day (service down) is caught up later
    in the month, still as of the first working day."""
    month = month_of(today)
    as_of = first_working_day(month)
    if today >= as_of and month not in drawn_months:
        return month, as_of
    return None
