"""HTTP API of reporting: figures over rolling windows, the monthly collation, the quarterly report, the dashboard.

Every endpoint needs a bearer token of role `reporting` or `qa-admin`. JSON by default; `format=csv`
gives CSV (one tidy row per figure / item, for spreadsheets and BI tools).

The dashboard is one HTML page with server-drawn SVG charts; it works with no internet at all. A
browser cannot send a bearer header from a link, so the page also accepts the token once as
`?token=...`: it is then kept in an HttpOnly, SameSite=Strict cookie scoped to /dashboard, and the
browser is redirected to the same address without the token (so it does not stay in the address bar
or the history). An `Authorization: Bearer` header works too. The page's CSV downloads use the same cookie.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qaf_shared.contracts.reporting import Measure
from qaf_shared.errors import NotFound
from qaf_shared.http import Principal, TokenStore, require_role, unit_of_work
from qaf_shared.vocabulary import Service, Theme

from qaf_reporting import usecases, views
from qaf_reporting.adapters import render
from qaf_reporting.adapters.repository import Repository
from qaf_reporting.domain import reports
from qaf_reporting.domain.figures import ALL
from qaf_reporting.domain.parameters import BadParameter, month_named, scope_named
from qaf_reporting.usecases import Reporting

READERS = ("reporting", "qa-admin")
COOKIE = "qaf_reporting_token"
MonthParam = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Scope = Service | Literal["all"]
Format = Literal["json", "csv"]
ReportingUoW = Annotated[Reporting, Depends(unit_of_work(Repository))]


class CSVResponse(Response):
    media_type = "text/csv"  # Starlette adds "; charset=utf-8", as for every text type


# The endpoints that answer JSON or, with format=csv, CSV: the document names both.
OR_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


def csv_response(header: list[str], rows: list[list[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return CSVResponse(buffer.getvalue(), headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def collation_csv(report: dict[str, Any], label: str) -> Response:
    return csv_response(reports.COLLATION_HEADER, reports.collation_rows(report), f"collation-{label}.csv")


def quarterly_csv(report: dict[str, Any], label: str) -> Response:
    return csv_response(reports.QUARTERLY_HEADER, reports.quarterly_rows(report), f"quarterly-{label}.csv")


def scope_of(service: Scope) -> str:
    return service.value if isinstance(service, Service) else service


def build_router() -> APIRouter:
    router = APIRouter()
    router.include_router(reports_router())
    router.include_router(dashboard_router())
    return router


def reports_router() -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(require_role(*READERS))])

    @router.get("/figures", summary="Theme figures over a rolling window: counts and rates, for a service or all",
                response_model=views.FiguresView, responses=OR_CSV)
    async def figures(
        uow: ReportingUoW,
        period_end: MonthParam = None,
        window: Annotated[int, Query(description="months in the rolling window: 1, 3, 6 or 12")] = 3,
        service: Scope = "all",
        measure: Measure | None = None,
        theme: Theme | None = None,
        format: Format = "json",
    ) -> views.FiguresView | Response:
        report = await usecases.figures(
            uow, scope=scope_of(service), window=window,
            period_end=month_named(period_end, "period_end") if period_end else None,
            measure=measure, theme=theme.value if theme else None,
        )
        if format == "csv":
            header = ["theme", "measure", "question_id", "category", "service", "window_months", "period_end",
                      "count", "denominator", "denominator_kind", "rate"]
            rows = [[row[h] for h in header] for row in (figure.as_dict() for figure in report.figures)]
            return csv_response(header, rows, f"figures-{report.period_end.label}.csv")
        return views.figures_view(report)

    @router.get("/monthly/{month}", summary="Monthly collation: audits, grades, themes, indicators, by service",
                response_model=views.MonthlyCollationView, responses=OR_CSV)
    async def monthly_collation(
        uow: ReportingUoW, month: str, format: Format = "json"
    ) -> views.MonthlyCollationView | Response:
        report = await usecases.monthly_collation(uow, month_named(month, "month"))
        if format == "csv":
            return collation_csv(report, month)
        return views.collation_view(report)

    @router.get("/quarterly/{period_end}", summary="Quarterly in-depth report: key areas for practice development",
                response_model=views.QuarterlyReportView, responses=OR_CSV)
    async def quarterly(
        uow: ReportingUoW,
        period_end: str,
        service: Scope = "all",
        key_areas: Annotated[int, Query(ge=1, le=27)] = 4,
        format: Format = "json",
    ) -> views.QuarterlyReportView | Response:
        report = await usecases.quarterly_report(
            uow, month_named(period_end, "period_end"), scope_of(service), key_areas)
        if format == "csv":
            return quarterly_csv(report, period_end)
        return views.quarterly_view(report)

    return router


async def dashboard_principal(request: Request) -> Principal:
    token = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    token = token or request.cookies.get(COOKIE)
    if not token:
        raise HTTPException(401, detail="open the dashboard with ?token=<a reporting token> (or a bearer header)")
    store: TokenStore = request.app.state.tokens
    principal = await store.authenticate(token)
    if principal is None:
        raise HTTPException(401, detail="the token is not valid or has been revoked")
    if principal.role not in READERS:
        raise HTTPException(403, detail=f"role {principal.role!r} may not do this; it needs one of: {', '.join(READERS)}")
    return principal


def dashboard_router() -> APIRouter:
    router = APIRouter(tags=["dashboard"])

    @router.get("/dashboard", response_class=HTMLResponse, summary="Web dashboard (HTML, charts drawn on the server)")
    async def show_dashboard(
        request: Request,
        uow: ReportingUoW,
        token: str | None = Query(default=None, description="a reporting token, kept in a cookie then removed",
                                  pattern=r"^[A-Za-z0-9_.~-]{1,200}$"),  # a cookie value carries no other characters
        period_end: str | None = None,
        service: str = ALL,
    ) -> Response:
        if token:
            query = {k: v for k, v in request.query_params.items() if k != "token"}
            target = "/dashboard" + (f"?{urlencode(query)}" if query else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/dashboard")
            return response
        await dashboard_principal(request)
        scope = scope_named(service)
        end = month_named(period_end, "period_end") if period_end else None
        data = await usecases.dashboard_data(uow, end, scope)
        if data is None:
            return HTMLResponse(render.empty_page(scope))
        return HTMLResponse(
            await render.dashboard_page(data.period_end, data.scope, data.series, data.quarterly, data.collation))

    @router.get("/dashboard/download/{report}.csv", summary="CSV downloads for the dashboard (cookie auth)",
                response_class=CSVResponse)
    async def download(
        uow: ReportingUoW, report: str, period_end: str, service: str = ALL,
        _: Principal = Depends(dashboard_principal),  # before the query is checked: no token, 401
    ) -> Response:
        if not period_end:
            raise BadParameter("a month YYYY-MM is required", field="period_end")
        end = month_named(period_end, "period_end")
        if report == "monthly":
            return collation_csv(await usecases.monthly_collation(uow, end), period_end)
        if report == "quarterly":
            return quarterly_csv(await usecases.quarterly_report(uow, end, scope_named(service)), period_end)
        raise NotFound(f"no report named {report!r}: monthly or quarterly")

    return router
