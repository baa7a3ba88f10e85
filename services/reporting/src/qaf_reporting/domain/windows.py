"""Rolling windows over calendar months, and the rates their counts give.

Months are `qaf_shared.months.Month` (an integer, `year * 12 + month - 1`), so a window is plain integer
arithmetic across year boundaries. A rolling window of `w` months ending at `period_end` holds the
months `period_end - w + 1 .. period_end`, both included.
"""

from __future__ import annotations

WINDOWS: tuple[int, ...] = (1, 3, 6, 12)


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


def rate(count: int, denominator: int) -> float | None:
    """`count` per 100 of `denominator`, to two decimals; None when there is nothing to divide by."""
    if denominator <= 0:
        return None
    return round(100.0 * count / denominator, 2)
