"""The monthly collation and the quarterly report, from sums."""

from __future__ import annotations

from qaf_shared.months import Month

from qaf_reporting.domain import effects as k
from qaf_reporting.domain.reports import collation_rows, monthly_collation, quarterly_report


def test_the_quarterly_report_ranks_themes_by_prevalence_and_by_change_against_the_previous_quarter() -> None:
    quarter = {
        (k.AUDIT, "", "", ""): 10,
        (k.AUDIT_THEME, "children-in-need", "significant", ""): 5,
        (k.AUDIT_THEME, "direct-work", "minor", ""): 4,
        (k.AUDIT_THEME, "supervision", "serious", ""): 3,
        (k.AUDIT_THEME, "recording", "minor", ""): 3,
        (k.AUDIT_THEME, "fathers", "strength", ""): 6,
        (k.ESCALATION, "supervision", "supervision-not-driving-plan", "iro"): 2,
    }
    previous = {
        (k.AUDIT, "", "", ""): 20,
        (k.AUDIT_THEME, "children-in-need", "minor", ""): 10,
        (k.AUDIT_THEME, "supervision", "minor", ""): 2,
    }
    report = quarterly_report(Month.parse("2013-07"), "all", quarter, previous)
    assert report["quarter"] == {"from": "2013-05", "to": "2013-07"}
    assert report["previous_quarter"] == {"from": "2013-02", "to": "2013-04"}
    assert report["key_areas_for_practice_development"] == [
        "children-in-need", "direct-work", "recording", "supervision"]
    rows = {r["theme"]: r for r in report["themes_by_prevalence"]}
    assert (rows["children-in-need"]["per_100_audits"], rows["children-in-need"]["change"]) == (50.0, 0.0)
    assert (rows["supervision"]["per_100_audits"], rows["supervision"]["change"]) == (30.0, 20.0)
    assert rows["supervision"]["escalations"] == 2
    assert rows["fathers"]["audits_finding"] == 0 and rows["fathers"]["strengths"] == 6
    assert report["themes_by_change"][:3] == ["direct-work", "recording", "supervision"]


def test_a_quarter_with_no_audits_before_it_has_no_change_rather_than_a_division_by_zero() -> None:
    report = quarterly_report(Month.parse("2013-07"), "all",
                              {(k.AUDIT, "", "", ""): 2, (k.AUDIT_THEME, "fathers", "minor", ""): 1}, {})
    (row,) = report["themes_by_prevalence"]
    assert (row["per_100_audits"], row["previous_per_100_audits"], row["change"]) == (50.0, None, None)


def test_the_monthly_collation_compares_completed_with_allocated_per_service_and_for_all() -> None:
    by_service = {
        "first-response": {(k.AUDIT, "", "", ""): 3, (k.ALLOCATED, "", "", ""): 4,
                           (k.COMPLETED_FOR_ALLOCATION, "", "", ""): 3,
                           (k.GRADE, "", "overall", "good"): 2, (k.GRADE, "", "overall", "inadequate"): 1},
        "children-in-care": {(k.ALLOCATED, "", "", ""): 2},
    }
    report = monthly_collation(Month.parse("2013-10"), by_service)
    sections = {s["service"]: s for s in report["services"]}
    assert list(sections) == ["first-response", "children-in-care", "all"]
    assert sections["all"]["audits_allocated"] == 6
    assert sections["all"]["percent_of_allocation_completed"] == 50.0
    assert sections["children-in-care"]["percent_of_allocation_completed"] == 0.0
    assert sections["first-response"]["overall_grades"] == {
        "outstanding": 0, "good": 2, "requires-improvement": 0, "inadequate": 1}
    assert ["2013-10", "all", "audits", "allocated-completed", "", 3, 6, 50.0] in collation_rows(report)
