"""Which figures a change touches, and the theme-updated message for a figure that moved: pure.

A change is remembered as a dirty cell (family, service, month). The figures it touches are those of
the family (for cases: of the families measured per open case), for the service and for "all", for
every window 1/3/6/12 whose period end is the cell's month or a later month whose window still holds
it — but never past the latest month the service has seen an event in (the watermark): figures for
months nobody has reached yet are not published. Case counts touch every later period end (a case
opened long ago is still open now), so their cells reach up to the watermark.

A figure is published when it differs from the last value published for the same key (count,
denominator or rate); `previous_count` / `previous_rate` are that last published value, and `delta` is
the change of rate (null on the first publication or when either rate is null).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from qaf_shared.contracts import ThemeUpdated
from qaf_shared.months import Month

from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import ALL, OPEN_CASE_FAMILIES, PUBLISHED_FAMILIES, Figure
from qaf_reporting.domain.windows import WINDOWS, period_ends_covering

Target = tuple[str, str, int, int]  # (family, scope, window, period end)


@dataclass(frozen=True)
class Published:
    count: int
    denominator: int
    rate: float | None


def targets(dirty: Iterable[tuple[str, str, int]], latest: int) -> set[Target]:
    found: set[Target] = set()
    for family, service, month in dirty:
        families = OPEN_CASE_FAMILIES if family == k.CASES_FAMILY else (family,)
        families = tuple(f for f in families if f in PUBLISHED_FAMILIES)
        for fam in families:
            for scope in (service, ALL):
                for window in WINDOWS:
                    ends = (
                        range(month, latest + 1)
                        if family == k.CASES_FAMILY
                        else period_ends_covering(month, window, latest)
                    )
                    for period_end in ends:
                        found.add((fam, scope, window, period_end))
    return found


def has_changed(figure: Figure, before: Published | None) -> bool:
    return before is None or (before.count, before.denominator, before.rate) != (
        figure.count,
        figure.denominator,
        figure.rate,
    )


def theme_updated(figure: Figure, before: Published | None) -> ThemeUpdated:
    rate = figure.rate
    delta = None
    if before is not None and before.rate is not None and rate is not None:
        delta = round(rate - before.rate, 2)
    return ThemeUpdated(
        theme=figure.theme,
        measure=figure.measure,
        question_id=figure.question_id,
        category=figure.category,
        service=figure.service,
        window_months=figure.window_months,
        period_end=Month(figure.period_end).label,
        count=figure.count,
        denominator=figure.denominator,
        denominator_kind=figure.denominator_kind,
        rate=rate,
        previous_count=before.count if before is not None else None,
        previous_rate=before.rate if before is not None else None,
        delta=delta,
    )


def changed(figures: Iterable[Figure], published: Mapping[tuple, Published]) -> list[tuple[Figure, ThemeUpdated]]:
    """The figures that moved since last published, each with the message that says so."""
    out = []
    for figure in figures:
        before = published.get(figure.key)
        if has_changed(figure, before):
            out.append((figure, theme_updated(figure, before)))
    return out
