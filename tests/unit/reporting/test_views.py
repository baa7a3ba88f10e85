"""The JSON views say, field for field and in the same order, what the reports hold."""

from __future__ import annotations

import json

from pydantic import BaseModel

from qaf_shared.months import Month

from qaf_reporting import views
from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import Figure
from qaf_reporting.domain.reports import monthly_collation, quarterly_report
from qaf_reporting.usecases import FigureReport

OCT = Month.parse("2013-10")
SUMS = {
    (k.AUDIT, "", "", ""): 4,
    (k.ALLOCATED, "", "", ""): 5,
    (k.GRADE, "", "overall", "good"): 3,
    (k.GRADE, "", "assessment", "inadequate"): 1,
    (k.AUDIT_THEME, "supervision", "serious", ""): 2,
    (k.INDICATOR, "chronologies", "chronology-up-to-date", "yes"): 1,
    (k.PARTICIPATION, "", "child", ""): 2,
}


def as_sent(view: BaseModel) -> str:
    return json.dumps(view.model_dump(mode="json", by_alias=True))


def test_the_monthly_collation_view_is_the_report() -> None:
    report = monthly_collation(OCT, {"first-response": SUMS})
    assert as_sent(views.collation_view(report)) == json.dumps(report)


def test_the_quarterly_view_is_the_report_with_its_quarter_from_and_to() -> None:
    report = quarterly_report(OCT, "all", SUMS, {(k.AUDIT, "", "", ""): 2, **{
        (k.AUDIT_THEME, "supervision", "minor", ""): 1}})
    assert as_sent(views.quarterly_view(report)) == json.dumps(report)


def test_the_figures_view_labels_the_period_end() -> None:
    figure = Figure("supervision", "audit-theme", None, None, "all", 3, OCT, 2, 4, "audits")
    sent = json.loads(as_sent(views.figures_view(FigureReport(OCT, 3, "all", [figure]))))
    assert sent == {"period_end": "2013-10", "window_months": 3, "service": "all", "figures": [{
        "theme": "supervision", "measure": "audit-theme", "question_id": None, "category": None, "service": "all",
        "window_months": 3, "period_end": "2013-10", "count": 2, "denominator": 4, "denominator_kind": "audits",
        "rate": 50.0}]}
