"""What a report is asked for: months by label, a scope (a service or all), a window length.

A refusal here is a `BadParameter`: a 422 whose detail is one line naming the parameter
("window: must be one of 1, 3, 6, 12 (months)"), as the reporting API has always answered.
"""

from __future__ import annotations

from typing import Any

from qaf_shared.errors import Invalid
from qaf_shared.months import Month
from qaf_shared.vocabulary import Service

from qaf_reporting.domain.figures import ALL
from qaf_reporting.domain.windows import WINDOWS


class BadParameter(Invalid):
    """A query or path parameter the reports cannot be computed for."""

    def detail(self) -> Any:
        return self.message


def month_named(label: str, parameter: str) -> Month:
    """The month a `YYYY-MM` parameter names."""
    try:
        return Month.parse(label)
    except ValueError as exc:
        raise BadParameter(str(exc), field=parameter) from None


def scope_named(service: str) -> str:
    """A service code, or "all"."""
    if service == ALL:
        return ALL
    try:
        return Service(service).value
    except ValueError:
        raise BadParameter(f"{service!r} is not a service code nor 'all'", field="service") from None


def checked_window(window: int) -> int:
    if window not in WINDOWS:
        raise BadParameter("must be one of 1, 3, 6, 12 (months)", field="window")
    return window
