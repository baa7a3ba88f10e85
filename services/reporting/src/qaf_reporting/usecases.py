"""What reporting does, each over a unit of work on `Repository`: count events, and read the reports.

Counting is the consumer's hot path: a whole batch of prepared counter increments (`domain/effects.py`)
goes to `Repository.apply` at once, in the consumer's transaction. The reports read the counters as
committed so far and return domain values (figures, the collation and quarterly reports, the dashboard's
series); `views.py` shapes them for HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qaf_shared.errors import NotFound
from qaf_shared.months import Month
from qaf_shared.unit_of_work import UnitOfWork

from qaf_reporting.adapters.repository import Repository
from qaf_reporting.domain import dashboard, reports
from qaf_reporting.domain.effects import AUDIT, Effects
from qaf_reporting.domain.figures import (
    KINDS_OF_FAMILY,
    MEASURES_OF_FAMILY,
    OPEN_CASE_FAMILIES,
    Figure,
    family_figures,
    open_cases,
)
from qaf_reporting.domain.parameters import checked_window
from qaf_reporting.domain.windows import window_start

Reporting = UnitOfWork[Repository]


async def count_events(uow: Reporting, batch: Sequence[Effects]) -> int:
    """Add the counter increments of a batch of events. Returns how many increments were kept."""
    async with uow:
        kept = await uow.repository.apply(batch)
        await uow.commit()
    return kept


async def forget_counted_events(uow: Reporting, consumer: str) -> None:
    """Empty the counters and what they were built from, so a replay counts every event again."""
    async with uow:
        await uow.repository.reset_state(consumer)
        await uow.commit()


@dataclass(frozen=True)
class FigureReport:
    period_end: Month
    window_months: int
    service: str
    figures: list[Figure]


async def figures(
    uow: Reporting, *, scope: str, window: int, period_end: Month | None = None,
    measure: str | None = None, theme: str | None = None,
) -> FigureReport:
    """The figures of a rolling window (by default ending at the latest month counted), optionally of one
    measure or theme."""
    checked_window(window)
    async with uow:
        end = period_end if period_end is not None else await _latest_month(uow.repository)
        found = await _window_figures(uow.repository, scope, window, end, measure, theme)
    return FigureReport(end, window, scope, found)


async def monthly_collation(uow: Reporting, month: Month) -> dict[str, Any]:
    async with uow:
        return await _collation(uow.repository, month)


async def quarterly_report(uow: Reporting, period_end: Month, scope: str, key_areas: int = 4) -> dict[str, Any]:
    async with uow:
        return await _quarterly(uow.repository, period_end, scope, key_areas)


@dataclass(frozen=True)
class DashboardData:
    period_end: Month
    scope: str
    series: dashboard.DashboardSeries
    quarterly: dict[str, Any]
    collation: dict[str, Any]


async def dashboard_data(uow: Reporting, period_end: Month | None, scope: str) -> DashboardData | None:
    """What the dashboard shows for the period (by default the latest month counted); None before any event."""
    async with uow:
        repository = uow.repository
        end = period_end if period_end is not None else await _latest_month_or_none(repository)
        if end is None:
            return None
        monthly = await repository.monthly_sums_reading(dashboard.READS, scope, dashboard.first_month_needed(end), end)
        quarterly = await _quarterly(repository, end, scope)
        collation = await _collation(repository, end)
    return DashboardData(end, scope, dashboard.series(end, monthly), quarterly, collation)


async def _latest_month_or_none(repository: Repository) -> Month | None:
    """The latest month of counted events (audits, until the flusher has set the watermark)."""
    latest = await repository.latest_month()
    if latest is None:
        latest = await repository.latest_month_with(AUDIT)
    return None if latest is None else Month(latest)


async def _latest_month(repository: Repository) -> Month:
    latest = await _latest_month_or_none(repository)
    if latest is None:
        raise NotFound("no events have been counted yet: give period_end=YYYY-MM")
    return latest


async def _window_figures(
    repository: Repository, scope: str, window: int, period_end: Month, measure: str | None, theme: str | None
) -> list[Figure]:
    first = window_start(period_end, window)
    out: list[Figure] = []
    for family, measures in MEASURES_OF_FAMILY.items():
        if measure is not None and measure not in measures:
            continue
        sums = await repository.sums(KINDS_OF_FAMILY[family], scope, first, period_end)
        cases = 0
        if family in OPEN_CASE_FAMILIES:
            cases = open_cases(*await repository.case_series(scope), first, period_end)
        out.extend(
            figure for figure in family_figures(family, scope, window, period_end, sums, cases)
            if (measure is None or figure.measure == measure) and (theme is None or figure.theme == theme)
        )
    return out


async def _collation(repository: Repository, month: Month) -> dict[str, Any]:
    by_service = await repository.sums_by_service(reports.COLLATION_KINDS, month, month)
    return reports.monthly_collation(month, by_service)


async def _quarterly(repository: Repository, period_end: Month, scope: str, key_areas: int = 4) -> dict[str, Any]:
    quarter = await repository.sums(reports.QUARTERLY_KINDS, scope, period_end - 2, period_end)
    previous = await repository.sums(reports.QUARTERLY_KINDS, scope, period_end - 5, period_end - 3)
    return reports.quarterly_report(period_end, scope, quarter, previous, key_areas)
