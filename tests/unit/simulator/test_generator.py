"""The simulated council is a pure function of its seed, and draws the trends the demo shows."""

from __future__ import annotations

from datetime import date

from qaf_simulator.generator import (
    AllocatedAudit,
    audit_outcome,
    build_plan,
    first_working_day,
)


def test_the_same_seed_gives_the_same_plan_and_another_seed_a_different_one() -> None:
    assert build_plan(11, months=2, cases=200) == build_plan(11, months=2, cases=200)
    assert build_plan(11, months=2, cases=200).opening_cases != build_plan(12, months=2, cases=200).opening_cases


def test_the_caseload_stays_about_level_and_every_case_event_follows_its_opening() -> None:
    plan = build_plan(3)
    open_cases = {e.payload["case_id"] for e in plan.opening_cases}
    assert len(open_cases) == 2500
    opened_on = {e.payload["case_id"]: e.on for e in plan.opening_cases}
    for month in plan.months:
        for event in month.case_events:
            case_id = event.payload["case_id"]
            if event.event_type == "case-opened":
                opened_on[case_id] = event.on
                open_cases.add(case_id)
            else:
                assert event.on > opened_on[case_id]
                if event.event_type == "case-closed":
                    open_cases.discard(case_id)
    assert 2200 < len(open_cases) < 2800
    services = {e.payload["service"] for e in plan.opening_cases}
    assert len(services) == 6


def test_months_are_drawn_as_of_their_first_working_day() -> None:
    plan = build_plan(3)
    assert [m.as_of for m in plan.months][:2] == [date(2013, 4, 2), date(2013, 5, 1)]  # 1 April 2013: Easter Monday
    assert first_working_day(date(2013, 12, 1)) == date(2013, 12, 2)
    assert plan.end_as_of == date(2014, 4, 1) and plan.digest_period == "2014-03"


def _answers(month: int, question: str, n: int = 600) -> float:
    allocated = date(2013 + (month < 4), month, 1)
    yes = total = 0
    for i in range(n):
        audit = AllocatedAudit(f"A-{i}", "safeguarding-and-support", "A-SS-02", "A-SS-01", allocated,
                               date(allocated.year, allocated.month, 28))
        outcome = audit_outcome(5, audit)
        if outcome is None:
            continue
        answer = next(a["answer"] for a in outcome.body["answers"] if a["question_id"] == question)
        yes += answer == "yes"
        total += answer != "not-applicable"
    return yes / total


def test_chronologies_improve_over_the_year_and_supervision_does_not() -> None:
    assert _answers(4, "chronology-up-to-date") < 0.5 < 0.8 < _answers(3, "chronology-up-to-date")
    assert _answers(4, "supervision-regular-reflective") < 0.4 and _answers(3, "supervision-regular-reflective") < 0.4


def test_complaints_about_communication_rise() -> None:
    plan = build_plan(9)

    def communication(month: int) -> int:
        return sum(1 for s in plan.months[month].steps if s.path == "/complaints" and s.body["category"] == "communication")

    assert sum(map(communication, range(3))) * 2 < sum(map(communication, range(9, 12)))


def test_most_audits_are_completed_some_late_some_never_and_the_outcome_is_pure() -> None:
    audits = [AllocatedAudit(f"A-2013-06-{i:03d}", "children-in-care", "A-CIC-02", "A-CIC-01",
                             date(2013, 6, 3), date(2013, 6, 30)) for i in range(400)]
    outcomes = [audit_outcome(1, a) for a in audits]
    assert outcomes == [audit_outcome(1, a) for a in audits]
    never = sum(o is None for o in outcomes)
    late = [o for o in outcomes if o is not None and o.late]
    assert 5 < never < 40 and 20 < len(late) < 90
    assert all(o.completed_on > date(2013, 7, 1) for o in late)
    on_time = [o for o in outcomes if o is not None and not o.late]
    assert all(date(2013, 6, 3) <= o.completed_on <= date(2013, 6, 30) for o in on_time)
    # a looked-after child's audit grades the adoption/pathway plan domain
    assert all(any(d["domain"] == "adoption-pathway-plan" for d in o.body["domains"]) for o in on_time)
