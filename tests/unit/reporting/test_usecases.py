"""The use cases of reporting over the fake unit of work: counting a batch, the figures of a window, the
monthly collation, the quarterly report and the dashboard's data, with their refusals."""

from __future__ import annotations

from datetime import date

import pytest

from qaf_shared.errors import NotFound
from qaf_shared.months import Month
from qaf_shared.unit_of_work import FakeUnitOfWork

from qaf_reporting import usecases
from qaf_reporting.domain import effects as k
from qaf_reporting.domain.effects import effects_of
from qaf_reporting.domain.parameters import BadParameter
from tests.unit.reporting import factories as f
from tests.unit.reporting.factories import FR, SS
from tests.unit.reporting.fakes import FakeRepository

SEP, OCT, NOV = Month.parse("2013-09"), Month.parse("2013-10"), Month.parse("2013-11")


def counters() -> dict[tuple[str, str, int, str, str, str], int]:
    """September and October: 7 audits (5 in October), supervision found in 3, one escalation, two cases."""
    fr, ss = FR.value, SS.value
    return {
        (k.AUDIT, fr, OCT, "", "", ""): 4,
        (k.AUDIT_THEME, fr, OCT, "supervision", "serious", ""): 2,
        (k.AUDIT_THEME, fr, OCT, "fathers", "strength", ""): 1,
        (k.AUDIT, ss, OCT, "", "", ""): 1,
        (k.AUDIT_THEME, ss, OCT, "supervision", "minor", ""): 1,
        (k.AUDIT, fr, SEP, "", "", ""): 2,
        (k.AUDIT_THEME, fr, SEP, "direct-work", "minor", ""): 1,
        (k.ESCALATION, fr, OCT, "timeliness-drift", "drift-and-delay", "iro"): 1,
        (k.CASE_OPENED, fr, SEP, "", "", ""): 1,
        (k.CASE_OPENED, fr, OCT, "", "", ""): 1,
    }


def uow(watermark: int | None = None, counts: dict | None = None) -> FakeUnitOfWork[FakeRepository]:
    return FakeUnitOfWork(FakeRepository(counters() if counts is None else counts, watermark))


def summary(report: usecases.FigureReport) -> list[tuple]:
    return [(x.theme, x.measure, x.category, x.service, x.count, x.denominator, x.rate) for x in report.figures]


async def test_a_batch_of_events_is_counted_at_once_and_committed_without_events() -> None:
    work = uow()
    batch = [effects_of(f.envelope(f.audit_completed("A-1", FR, date(2013, 10, 3)), date(2013, 10, 3))),
             effects_of(f.envelope(f.case_opened("C-9", SS, date(2013, 10, 4)), date(2013, 10, 4)))]
    await usecases.count_events(work, batch)
    assert work.repository.applied == [batch]
    assert (work.commits, work.committed_events) == (1, [])


async def test_forgetting_counted_events_empties_the_counters_for_the_consumer() -> None:
    work = uow(watermark=OCT)
    await usecases.forget_counted_events(work, "reporting")
    assert work.repository.reset_for == ["reporting"]
    assert work.repository.counts == {} and work.commits == 1


async def test_the_figures_of_one_month_for_all_services_count_findings_per_100_audits() -> None:
    report = await usecases.figures(uow(), scope="all", window=1, period_end=OCT, measure="audit-theme")
    assert (report.period_end, report.window_months, report.service) == (OCT, 1, "all")
    # the strength found about fathers is not a finding for development
    assert summary(report) == [("supervision", "audit-theme", None, "all", 3, 5, 60.0)]


async def test_a_three_month_window_of_one_service_reaches_back_into_september() -> None:
    report = await usecases.figures(uow(), scope=FR.value, window=3, period_end=OCT, measure="audit-theme")
    assert summary(report) == [
        ("direct-work", "audit-theme", None, FR.value, 1, 6, 16.67),
        ("supervision", "audit-theme", None, FR.value, 2, 6, 33.33),
    ]


async def test_escalations_are_counted_per_100_cases_open_in_the_window() -> None:
    report = await usecases.figures(uow(), scope="all", window=1, period_end=OCT, measure="escalation")
    assert summary(report) == [
        ("timeliness-drift", "escalation", None, "all", 1, 2, 50.0),
        ("timeliness-drift", "escalation", "drift-and-delay", "all", 1, 2, 50.0),
    ]


async def test_a_theme_filter_keeps_only_that_theme() -> None:
    report = await usecases.figures(uow(), scope="all", window=1, period_end=OCT, theme="timeliness-drift")
    assert {x.theme for x in report.figures} == {"timeliness-drift"}
    assert {x.measure for x in report.figures} == {"escalation"}


async def test_without_a_period_end_the_figures_end_at_the_watermark_or_else_the_latest_audit_month() -> None:
    assert (await usecases.figures(uow(watermark=NOV), scope="all", window=1)).period_end == NOV
    assert (await usecases.figures(uow(), scope="all", window=1)).period_end == OCT


async def test_figures_are_refused_before_anything_is_counted_and_for_a_window_of_two_months() -> None:
    with pytest.raises(NotFound, match="no events have been counted yet"):
        await usecases.figures(uow(counts={}), scope="all", window=3)
    with pytest.raises(BadParameter) as refused:
        await usecases.figures(uow(), scope="all", window=2, period_end=OCT)
    assert refused.value.detail() == "window: must be one of 1, 3, 6, 12 (months)"


async def test_the_monthly_collation_has_a_section_per_service_with_audits_and_one_for_all() -> None:
    report = await usecases.monthly_collation(uow(), OCT)
    assert report["month"] == "2013-10"
    sections = {s["service"]: s for s in report["services"]}
    assert list(sections) == [FR.value, SS.value, "all"]
    assert [sections[s]["audits_completed"] for s in sections] == [4, 1, 5]
    assert [(t["theme"], t["audits"]) for t in sections["all"]["top_themes"]] == [("supervision", 3)]


async def test_the_quarterly_report_ranks_the_themes_of_the_three_months_ending_at_the_period() -> None:
    report = await usecases.quarterly_report(uow(), OCT, "all")
    assert report["quarter"] == {"from": "2013-08", "to": "2013-10"}
    assert (report["audits_completed"], report["previous_audits_completed"]) == (7, 0)
    assert report["key_areas_for_practice_development"] == ["supervision", "direct-work"]
    first = report["themes_by_prevalence"][0]
    assert (first["theme"], first["audits_finding"], first["per_100_audits"]) == ("supervision", 3, 42.86)
    one_area = await usecases.quarterly_report(uow(), OCT, "all", key_areas=1)
    assert one_area["key_areas_for_practice_development"] == ["supervision"]


async def test_the_dashboard_shows_twelve_months_up_to_the_latest_counted_and_nothing_before_any_event() -> None:
    assert await usecases.dashboard_data(uow(counts={}), None, "all") is None
    data = await usecases.dashboard_data(uow(), None, "all")
    assert data is not None
    assert (data.period_end, data.scope) == (OCT, "all")
    assert (len(data.series.months), data.series.months[-1]) == (12, "2013-10")
    assert data.series.grades["good"] == [0] * 12  # no grade counters were set up
    assert data.quarterly["audits_completed"] == 7
    assert data.collation["month"] == "2013-10"
