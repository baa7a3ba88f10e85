"""HTTP API of reporting: figures over rolling windows, the monthly collation, the quarterly report.

Every endpoint needs a bearer token of role `reporting` or `qa-admin`. JSON by default; `format=csv`
gives CSV (one tidy row per figure / item, for spreadsheets and BI tools).
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from qaf_shared.contracts.reporting import Measure
from qaf_shared.http import Principal, require_role
from qaf_shared.vocabulary import Service, Theme

from qaf_reporting.adapters import repository as repo
from qaf_reporting.domain import reports
from qaf_reporting.domain.figures import (
    KINDS_OF_FAMILY,
    MEASURES_OF_FAMILY,
    OPEN_CASE_FAMILIES,
    family_figures,
    open_cases,
)
from qaf_reporting.domain.months import WINDOWS, month_label, parse_month, window_start

READERS = ("reporting", "qa-admin")
router = APIRouter(prefix="/reports", tags=["reports"])
MonthParam = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Scope = Service | Literal["all"]
Format = Literal["json", "csv"]


def csv_response(header: list[str], rows: list[list[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def default_month(pool: Any) -> int:
    latest = await repo.latest_month(pool)
    if latest is None:
        latest = await repo.latest_month_with(pool, "audit")
    if latest is None:
        raise HTTPException(404, detail="no events have been counted yet: give period_end=YYYY-MM")
    return latest


async def compute_figures(
    pool: Any, scope: str, window: int, period_end: int, measure: str | None = None, theme: str | None = None
) -> list[dict[str, Any]]:
    first = window_start(period_end, window)
    out: list[dict[str, Any]] = []
    for family, measures in MEASURES_OF_FAMILY.items():
        if measure is not None and measure not in measures:
            continue
        sums = await repo.sums(pool, KINDS_OF_FAMILY[family], scope, first, period_end)
        cases = 0
        if family in OPEN_CASE_FAMILIES:
            cases = open_cases(*await repo.case_series(pool, scope), first, period_end)
        for figure in family_figures(family, scope, window, period_end, sums, cases):
            if (measure is None or figure.measure == measure) and (theme is None or figure.theme == theme):
                out.append(figure.as_dict())
    return out


@router.get("/figures", summary="Theme figures over a rolling window: counts and rates, for a service or all")
async def figures(
    request: Request,
    period_end: MonthParam = None,
    window: Annotated[int, Query(description="months in the rolling window: 1, 3, 6 or 12")] = 3,
    service: Scope = "all",
    measure: Measure | None = None,
    theme: Theme | None = None,
    format: Format = "json",
    _: Principal = Depends(require_role(*READERS)),
) -> Response:
    if window not in WINDOWS:
        raise HTTPException(422, detail="window: must be one of 1, 3, 6, 12 (months)")
    pool = request.app.state.pool
    end = parse_month(period_end) if period_end else await default_month(pool)
    scope = service.value if isinstance(service, Service) else service
    rows = await compute_figures(pool, scope, window, end, measure, theme.value if theme else None)
    if format == "csv":
        header = ["theme", "measure", "question_id", "category", "service", "window_months", "period_end", "count",
                  "denominator", "denominator_kind", "rate"]
        return csv_response(header, [[r[h] for h in header] for r in rows], f"figures-{month_label(end)}.csv")
    return JSONResponse({"period_end": month_label(end), "window_months": window, "service": scope, "figures": rows})


async def build_collation(pool: Any, month: int) -> dict[str, Any]:
    by_service = await repo.sums_by_service(pool, reports.COLLATION_KINDS, month, month)
    return reports.monthly_collation(month, by_service)


@router.get("/monthly/{month}", summary="Monthly collation: audits, grades, themes, indicators, by service")
async def monthly_collation(
    request: Request,
    month: str,
    format: Format = "json",
    _: Principal = Depends(require_role(*READERS)),
) -> Response:
    try:
        m = parse_month(month)
    except ValueError as exc:
        raise HTTPException(422, detail=f"month: {exc}") from None
    report = await build_collation(request.app.state.pool, m)
    if format == "csv":
        return csv_response(reports.COLLATION_HEADER, reports.collation_rows(report), f"collation-{month}.csv")
    return JSONResponse(report)


async def build_quarterly(pool: Any, period_end: int, scope: str, key_areas: int = 4) -> dict[str, Any]:
    quarter = await repo.sums(pool, reports.QUARTERLY_KINDS, scope, period_end - 2, period_end)
    previous = await repo.sums(pool, reports.QUARTERLY_KINDS, scope, period_end - 5, period_end - 3)
    return reports.quarterly_report(period_end, scope, quarter, previous, key_areas)


@router.get("/quarterly/{period_end}", summary="Quarterly in-depth report: key areas for practice development")
async def quarterly(
    request: Request,
    period_end: str,
    service: Scope = "all",
    key_areas: Annotated[int, Query(ge=1, le=27)] = 4,
    format: Format = "json",
    _: Principal = Depends(require_role(*READERS)),
) -> Response:
    try:
        end = parse_month(period_end)
    except ValueError as exc:
        raise HTTPException(422, detail=f"period_end: {exc}") from None
    scope = service.value if isinstance(service, Service) else service
    report = await build_quarterly(request.app.state.pool, end, scope, key_areas)
    if format == "csv":
        return csv_response(reports.QUARTERLY_HEADER, reports.quarterly_rows(report), f"quarterly-{period_end}.csv")
    return JSONResponse(report)

