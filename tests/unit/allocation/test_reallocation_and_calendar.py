"""Reallocation when an auditor becomes unavailable; working days; the schedule; the yearly target."""

from __future__ import annotations

from datetime import date

from qaf_shared.months import Month, add_months
from qaf_shared.vocabulary import Service

from qaf_allocation.domain.reallocation import HeldAudit, reallocate
from qaf_allocation.domain.schedule import first_working_day, run_due
from qaf_allocation.domain.target import financial_year, yearly_target
from qaf_allocation.views import TargetView
from tests.unit.allocation.fakes import auditor, case

ABSENT = ((date(2013, 10, 14), date(2013, 11, 8)),)


def held(audit_id: str, auditor_id: str = "A", *, team: str = "T-1", month: str = "2013-10") -> HeldAudit:
    return HeldAudit(audit_id, case(f"C-{audit_id}", team=team), month, Month.parse(month).last_day(), auditor_id, "L")


def test_an_absent_auditors_open_audits_move_to_the_least_loaded_auditor_who_may_take_them() -> None:
    leaving = auditor("A", absences=ABSENT)
    roster = [leaving, auditor("L", lead=True, capacity=0), auditor("B", capacity=3), auditor("C", capacity=3),
              auditor("D", teams=("T-1",), capacity=9)]
    moves, stuck = reallocate([held("1"), held("2"), held("3", "B")], leaving, roster,
                              effective_on=date(2013, 10, 14), month_loads={"2013-10": {"A": 2, "B": 1, "C": 0}},
                              prior_load={"C": 4})  # then B and C tie this month; C had more this year
    assert stuck == []
    assert [(m.audit_id, m.previous_auditor_id, m.auditor_id) for m in moves] == [("1", "A", "C"), ("2", "A", "B")]
    assert all(m.lead_auditor_id == "L" for m in moves)
    assert moves[0].explanation.startswith("A absent 2013-10-14 to 2013-11-08, unavailable from 2013-10-14 to "
                                           "2013-10-31; moved to C:")


def test_audits_due_before_the_absence_or_of_an_available_auditor_stay() -> None:
    leaving = auditor("A", absences=((date(2013, 11, 4), date(2013, 11, 8)),))
    roster = [leaving, auditor("B")]
    moves, stuck = reallocate([held("1"), held("2", month="2013-11")], leaving, roster,
                              effective_on=date(2013, 11, 4), month_loads={})
    assert [m.audit_id for m in moves] == ["2"]
    assert stuck == []


def test_when_nobody_may_take_an_audit_it_stays_and_says_why() -> None:
    leaving = auditor("A", absences=ABSENT)
    roster = [leaving, auditor("B", capacity=1), auditor("C", teams=("T-1",)),
              auditor("E", absences=((date(2013, 10, 30), date(2013, 10, 30)),))]
    moves, stuck = reallocate([held("1")], leaving, roster, effective_on=date(2013, 10, 14),
                              month_loads={"2013-10": {"B": 1}})
    assert moves == []
    assert stuck[0].reason == ("A absent 2013-10-14 to 2013-11-08; no auditor available from 2013-10-14 to "
                               "2013-10-31 who may audit case C-1 has capacity left in 2013-10")


def test_first_working_day_skips_weekends_and_england_and_wales_bank_holidays() -> None:
    assert first_working_day("2013-10") == date(2013, 10, 1)
    assert first_working_day("2013-09") == date(2013, 9, 2)  # Sunday the 1st
    assert first_working_day("2014-01") == date(2014, 1, 2)  # New Year's Day
    assert first_working_day("2013-04") == date(2013, 4, 2)  # Easter Monday 1 April 2013


def test_the_scheduled_run_is_due_from_the_first_working_day_until_the_month_is_drawn() -> None:
    assert run_due(date(2014, 1, 1), set()) is None
    assert run_due(date(2014, 1, 2), set()) == ("2014-01", date(2014, 1, 2))
    assert run_due(date(2014, 1, 15), set()) == ("2014-01", date(2014, 1, 2))  # caught up after downtime
    assert run_due(date(2014, 1, 15), {"2014-01"}) is None


def test_month_arithmetic() -> None:
    assert add_months(date(2013, 8, 31), -6) == date(2013, 2, 28)
    assert add_months(date(2013, 10, 1), 3) == date(2014, 1, 1)
    assert financial_year(2013, 4) == ("2013-14", "2013-04", "2014-03")
    assert financial_year(2013, 1) == ("2013", "2013-01", "2013-12")


def test_the_yearly_target_reports_against_450_to_500_by_service() -> None:
    report = TargetView.of(yearly_target(
        "2013-14", "2013-04", "2014-03", target_min=450, target_max=500,
        allocated={Service.FIRST_RESPONSE: 300, Service.CHILDREN_IN_CARE: 200},
        completed={Service.FIRST_RESPONSE: 260, Service.CHILDREN_IN_CARE: 200},
        months_drawn=10)).model_dump(mode="json")
    assert report["allocated"] == 500 and report["completed"] == 460
    assert report["status"] == "within" and report["remaining_to_min"] == 0
    first = report["by_service"][0]
    assert first == {"service": "first-response", "label": "First Response", "allocated": 300, "completed": 260}
    assert len(report["by_service"]) == 6
