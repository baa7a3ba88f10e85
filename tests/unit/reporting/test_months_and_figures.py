"""Window arithmetic over month and year boundaries, rates with zero denominators, the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qaf_shared.months import Month

from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import family_figures, open_cases, window_sums
from qaf_reporting.domain.windows import (
    period_ends_covering,
    previous_period,
    rate,
    window_months,
    window_start,
)


def m(label: str) -> int:
    return Month.parse(label)


def test_a_window_ending_in_february_reaches_back_across_the_year_boundary() -> None:
    assert [Month(x).label for x in window_months(m("2014-02"), 3)] == ["2013-12", "2014-01", "2014-02"]
    assert Month(window_start(m("2014-01"), 12)).label == "2013-02"
    assert Month(window_start(m("2014-01"), 1)).label == "2014-01"
    assert [Month(x).label for x in window_months(m("2013-12"), 6)][0] == "2013-07"


def test_previous_period_and_month_labels_round_trip() -> None:
    assert Month(previous_period(m("2013-07"), 3)).label == "2013-04"
    assert Month(previous_period(m("2014-02"), 3)).label == "2013-11"
    for label in ("1999-12", "2000-01", "2013-10", "2100-12"):
        assert Month.parse(label).label == label
    assert Month.of(date(2014, 1, 31)) == m("2014-01")
    assert Month.of(datetime(2013, 12, 31, 23, 59, tzinfo=UTC)) == m("2013-12")


@pytest.mark.parametrize("bad", ["2013-13", "2013-00", "13-10", "2013/10", ""])
def test_a_malformed_month_is_refused_with_the_expected_form(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse(bad)


def test_period_ends_covering_a_month_stop_at_the_latest_month_seen() -> None:
    nov = m("2013-11")
    assert [Month(x).label for x in period_ends_covering(nov, 3, latest=m("2014-06"))] == [
        "2013-11", "2013-12", "2014-01"]
    assert [Month(x).label for x in period_ends_covering(nov, 12, latest=m("2013-12"))] == ["2013-11", "2013-12"]
    assert list(period_ends_covering(nov, 1, latest=m("2013-10"))) == []


def test_rates_are_per_hundred_to_two_decimals_and_null_without_a_denominator() -> None:
    assert rate(1, 3) == 33.33
    assert rate(2, 2) == 100.0
    assert rate(0, 5) == 0.0
    assert rate(0, 0) is None
    assert rate(3, 0) is None


def test_window_sums_add_up_only_the_months_inside_the_window() -> None:
    key = (k.AUDIT, "", "", "")
    monthly = {m("2013-11"): {key: 1}, m("2013-12"): {key: 2}, m("2014-01"): {key: 4}, m("2014-02"): {key: 8}}
    assert window_sums(monthly, m("2013-12"), m("2014-01")) == {key: 6}
    assert window_sums(monthly, m("2014-03"), m("2014-05")) == {}


def test_open_cases_in_a_window_count_those_open_at_any_time_in_it() -> None:
    opened = {m("2013-01"): 2, m("2013-05"): 1, m("2013-11"): 1}
    closed = {m("2013-03"): 1, m("2013-10"): 1}
    # Nov-Dec 2013: 4 opened by December, 1 closed before November (March), the October one too
    assert open_cases(opened, closed, m("2013-11"), m("2013-12")) == 2
    # Oct-Dec 2013: the case closed in October was open during the window
    assert open_cases(opened, closed, m("2013-10"), m("2013-12")) == 3
    assert open_cases(opened, closed, m("2012-01"), m("2012-12")) == 0


def test_audit_theme_figures_leave_strengths_out_and_a_zero_denominator_gives_a_null_rate() -> None:
    sums = {
        (k.AUDIT, "", "", ""): 4,
        (k.AUDIT_THEME, "supervision", "serious", ""): 1,
        (k.AUDIT_THEME, "supervision", "minor", ""): 2,
        (k.AUDIT_THEME, "recording", "strength", ""): 3,
        (k.INDICATOR, "chronologies", "q1", "yes"): 1,
        (k.INDICATOR, "chronologies", "q1", "not-applicable"): 5,
        (k.INDICATOR, "fathers", "q2", "not-applicable"): 2,
    }
    figures = {(f.theme, f.measure): f for f in family_figures(k.AUDITS_FAMILY, "all", 3, m("2013-10"), sums)}
    assert set(figures) == {("supervision", "audit-theme"), ("chronologies", "indicator-yes")}
    assert (figures[("supervision", "audit-theme")].count, figures[("supervision", "audit-theme")].rate) == (3, 75.0)
    indicator = figures[("chronologies", "indicator-yes")]
    assert (indicator.count, indicator.denominator, indicator.rate) == (1, 1, 100.0)
    no_cases = family_figures(k.ESCALATIONS_FAMILY, "all", 1, m("2013-10"),
                              {(k.ESCALATION, "fathers", "father-not-engaged", "cpa"): 2}, open_cases=0)
    assert {(f.category, f.count, f.denominator, f.rate) for f in no_cases} == {
        (None, 2, 0, None), ("father-not-engaged", 2, 0, None)}


def test_in_time_figures_count_resolutions_per_theme_and_per_category() -> None:
    sums = {
        (k.COMPLAINT_RESOLVED, "communication", "communication", k.IN_TIME): 3,
        (k.COMPLAINT_RESOLVED, "communication", "delay", k.LATE): 1,
    }
    figures = {(f.measure, f.category): (f.count, f.denominator, f.rate)
               for f in family_figures(k.COMPLAINTS_FAMILY, "all", 1, m("2013-10"), sums, open_cases=10)}
    assert figures == {
        ("complaint-in-time", None): (3, 4, 75.0),
        ("complaint-in-time", "communication"): (3, 3, 100.0),
        ("complaint-in-time", "delay"): (0, 1, 0.0),
    }


def test_overdue_audits_are_rated_against_audits_allocated() -> None:
    sums = {(k.AUDIT_OVERDUE, "", "", ""): 1, (k.ALLOCATED, "", "", ""): 0}
    (figure,) = family_figures(k.OVERDUE_FAMILY, "first-response", 1, m("2013-10"), sums)
    assert (figure.theme, figure.count, figure.denominator, figure.denominator_kind, figure.rate) == (
        "timeliness-drift", 1, 0, "allocated-audits", None)
