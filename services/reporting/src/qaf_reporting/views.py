"""What the reporting API returns as JSON: the figures of a window, the monthly collation, the quarterly report.

The models follow the reports' own shape (domain/figures.py, domain/reports.py) field by field, in order,
so the OpenAPI document describes exactly what is sent. CSV and the dashboard's HTML are text.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qaf_reporting.usecases import FigureReport


class FigureView(BaseModel):
    theme: str
    measure: str
    question_id: str | None
    category: str | None
    service: str
    window_months: int
    period_end: str = Field(description="YYYY-MM")
    count: int
    denominator: int
    denominator_kind: str
    rate: float | None = Field(description="count per 100 of the denominator; null when it is 0")


class FiguresView(BaseModel):
    period_end: str = Field(description="YYYY-MM")
    window_months: int
    service: str
    figures: list[FigureView]


class IndicatorView(BaseModel):
    question_id: str
    theme: str
    yes: int
    no: int
    not_applicable: int
    percent_yes: float | None


class ThemeFoundView(BaseModel):
    theme: str
    label: str
    audits: int
    per_100_audits: float | None
    by_severity: dict[str, int]
    strengths: int


class ParticipationView(BaseModel):
    audits: int
    percent: float | None


class CollationSectionView(BaseModel):
    service: str
    label: str
    audits_completed: int
    audits_allocated: int
    allocated_audits_completed: int
    percent_of_allocation_completed: float | None
    overall_grades: dict[str, int]
    grades_by_domain: dict[str, dict[str, int]]
    top_themes: list[ThemeFoundView]
    indicators: list[IndicatorView]
    participation: dict[str, ParticipationView]
    practice_concerns: int
    audits_overdue: int
    escalations_raised: int
    complaints_received: int


class MonthlyCollationView(BaseModel):
    report: str
    month: str = Field(description="YYYY-MM")
    services: list[CollationSectionView] = Field(description="each service with audits, then all services")


class MonthSpan(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first: str = Field(alias="from", description="YYYY-MM")
    last: str = Field(alias="to", description="YYYY-MM")


class QuarterlyThemeView(BaseModel):
    theme: str
    label: str
    audits_finding: int
    per_100_audits: float | None
    previous_audits_finding: int
    previous_per_100_audits: float | None
    change: float | None
    by_severity: dict[str, int]
    strengths: int
    practice_concerns: int
    escalations: int
    complaints: int
    prevalence_rank: int
    change_rank: int


class QuarterlyIndicatorView(IndicatorView):
    previous_percent_yes: float | None


class QuarterlyReportView(BaseModel):
    report: str
    service: str
    label: str
    quarter: MonthSpan
    previous_quarter: MonthSpan
    audits_completed: int
    previous_audits_completed: int
    key_areas_for_practice_development: list[str]
    themes_by_prevalence: list[QuarterlyThemeView]
    themes_by_change: list[str]
    indicators: list[QuarterlyIndicatorView]


def figures_view(report: FigureReport) -> FiguresView:
    return FiguresView(
        period_end=report.period_end.label, window_months=report.window_months, service=report.service,
        figures=[FigureView.model_validate(figure.as_dict()) for figure in report.figures],
    )


def collation_view(report: dict[str, Any]) -> MonthlyCollationView:
    return MonthlyCollationView.model_validate(report)


def quarterly_view(report: dict[str, Any]) -> QuarterlyReportView:
    return QuarterlyReportView.model_validate(report)
