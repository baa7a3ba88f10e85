"""The monthly draw as a pure function: stratification, every constraint, determinism, shortfalls."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from qaf_shared.vocabulary import Service

from qaf_allocation.domain.draw import draw, stratify
from qaf_allocation.domain.model import DrawSettings
from tests.unit.allocation.fakes import SERVICES, auditor, case, leads, population, team_managers

OCT = dict(month="2013-10", as_of=date(2013, 10, 1))
SIZES = {Service.FIRST_RESPONSE: 300, Service.SAFEGUARDING_AND_SUPPORT: 250, Service.CHILDREN_IN_CARE: 200,
         Service.DISABLED_CHILDREN: 100, Service.FOSTERING_AND_ADOPTION: 120, Service.SAFEGUARDING_AND_QA: 30}


def roster(capacity: int = 3) -> list:
    return leads() + team_managers(capacity=capacity) + [auditor(f"X-{i}", SERVICES[i % 6], capacity=capacity)
                                                         for i in range(12)]


# ---------------------------------------------------------------- determinism


def test_the_same_inputs_and_seed_give_the_same_draw_whatever_the_input_order() -> None:
    cases, auditors = population(SIZES), roster()
    first = draw(cases, auditors, DrawSettings(), seed=2013, **OCT)
    shuffled_cases, shuffled_roster = cases[:], auditors[:]
    random.Random(5).shuffle(shuffled_cases)
    random.Random(6).shuffle(shuffled_roster)
    again = draw(shuffled_cases, shuffled_roster, DrawSettings(), seed=2013, **OCT)
    assert len(first.allocations) == 50
    assert first.allocations == again.allocations
    assert first.shortfall == again.shortfall


def test_different_seeds_draw_different_samples() -> None:
    cases, auditors = population(SIZES), roster()
    samples = {frozenset(a.case_id for a in draw(cases, auditors, DrawSettings(), seed=s, **OCT).allocations)
               for s in range(20)}
    assert len(samples) == 20


# ---------------------------------------------------------------- stratification


def test_each_service_is_represented_in_proportion_to_its_open_caseload_over_many_seeds() -> None:
    cases, auditors = population(SIZES), roster()
    total = sum(SIZES.values())
    for seed in range(60):
        result = draw(cases, auditors, DrawSettings(), seed=seed, **OCT)
        counts = Counter(a.service for a in result.allocations)
        assert sum(counts.values()) == 50
        for service, size in SIZES.items():
            ideal = 50 * size / total
            assert abs(counts[service] - ideal) < 1, (service, counts[service], ideal)
            assert counts[service] == result.quotas[service]


def test_a_small_service_still_gets_one_case_and_an_empty_service_none() -> None:
    sizes = {Service.FIRST_RESPONSE: 5000, Service.CHILDREN_IN_CARE: 4000, Service.DISABLED_CHILDREN: 2}
    result = draw(population(sizes), roster(capacity=10), DrawSettings(), seed=1, **OCT)
    counts = Counter(a.service for a in result.allocations)
    assert counts[Service.DISABLED_CHILDREN] == 1
    assert counts[Service.FOSTERING_AND_ADOPTION] == 0
    assert sum(counts.values()) == 50


def test_within_a_stratum_every_case_has_the_same_chance_over_many_seeds() -> None:
    cases = population({Service.FIRST_RESPONSE: 40, Service.CHILDREN_IN_CARE: 40})
    hits: Counter[str] = Counter()
    seeds = 800
    for seed in range(seeds):
        result = draw(cases, roster(), DrawSettings(sample_size=10), seed=seed, **OCT)
        hits.update(a.case_id for a in result.allocations)
    expected = seeds * 5 / 40  # five of forty per stratum each month
    assert set(hits) == {c.case_id for c in cases}
    assert all(0.6 * expected < n < 1.4 * expected for n in hits.values()), hits.most_common(3)


def test_stratify_splits_by_largest_remainder_with_one_each_and_caps() -> None:
    fr, ss, cic = Service.FIRST_RESPONSE, Service.SAFEGUARDING_AND_SUPPORT, Service.CHILDREN_IN_CARE
    assert stratify({fr: 500, ss: 300, cic: 200}, {fr: 500, ss: 300, cic: 200}, 50) == {fr: 25, ss: 15, cic: 10}
    assert stratify({fr: 990, ss: 9, cic: 1}, {fr: 990, ss: 9, cic: 1}, 50) == {fr: 48, ss: 1, cic: 1}
    # a stratum with fewer eligible cases than its share gives the rest to the others
    assert stratify({fr: 500, ss: 500}, {fr: 500, ss: 5}, 50) == {fr: 45, ss: 5}
    assert stratify({fr: 5, ss: 3, cic: 1}, {fr: 5, ss: 3, cic: 1}, 2) == {fr: 1, ss: 1}
    assert stratify({}, {}, 50) == {}


# ---------------------------------------------------------------- constraints


def test_no_auditor_ever_audits_a_case_they_hold_or_that_a_team_they_manage_holds() -> None:
    cases = population(SIZES, workers=8)
    workers = [auditor(f"W-{i}", SERVICES[i % 6], capacity=2) for i in range(8)]  # managers holding cases
    auditors = leads() + team_managers(capacity=2) + workers
    by_id = {a.auditor_id: a for a in auditors}
    for seed in range(40):
        result = draw(cases, auditors, DrawSettings(), seed=seed, **OCT)
        assert len(result.allocations) == 50
        for allocation in result.allocations:
            held = next(c for c in cases if c.case_id == allocation.case_id)
            assert by_id[allocation.auditor_id].conflict_with(held) is None
            assert allocation.auditor_id not in (held.worker_id, held.team_manager_id)
            assert held.team_id not in by_id[allocation.auditor_id].manages_teams


def test_capacity_is_never_exceeded_and_work_is_balanced_within_one() -> None:
    for seed in range(40):
        rnd = random.Random(seed)
        auditors = leads() + [auditor(f"X-{i}", SERVICES[i % 6], capacity=rnd.randint(0, 6)) for i in range(25)]
        result = draw(population(SIZES, seed=seed), auditors, DrawSettings(), seed=seed, **OCT)
        loads = result.loads
        available = [a for a in auditors if a.capacity > 0]
        for a in available:
            assert loads.get(a.auditor_id, 0) <= a.capacity
        for a in available:
            for b in available:
                if loads.get(a.auditor_id, 0) - loads.get(b.auditor_id, 0) >= 2:
                    assert loads.get(b.auditor_id, 0) == b.capacity, (seed, a, b, loads)


def test_balance_holds_when_conflicts_force_work_along_a_chain() -> None:
    # X-0 may audit anything; Y-* may audit only first-response (they manage the other teams)
    cases = population({Service.FIRST_RESPONSE: 30, Service.CHILDREN_IN_CARE: 30}, teams_per_service=1)
    auditors = [auditor("L-fr", Service.FIRST_RESPONSE, lead=True, capacity=0, teams=("T-first-response-0",)),
                auditor("L-cic", Service.CHILDREN_IN_CARE, lead=True, capacity=0),
                auditor("X-0", Service.CHILDREN_IN_CARE, capacity=10)] + [
        auditor(f"Y-{i}", Service.FIRST_RESPONSE, teams=("T-children-in-care-0",), capacity=10) for i in range(3)]
    for seed in range(30):
        result = draw(cases, auditors, DrawSettings(sample_size=8), seed=seed, **OCT)
        assert len(result.allocations) == 8
        loads = result.loads
        assert loads["X-0"] == 4  # all four children-in-care cases, and no first-response ones
        assert sorted(loads[f"Y-{i}"] for i in range(3)) == [1, 1, 2]


def test_augmenting_paths_place_cases_greedy_choice_would_strand() -> None:
    # A may audit both cases, B only C-1; each has room for one
    cases = [case("C-1", team="T-A"), case("C-2", team="T-B")]
    auditors = [auditor("L", lead=True, capacity=0), auditor("A", capacity=1), auditor("B", teams=("T-B",), capacity=1)]
    for seed in range(20):
        result = draw(cases, auditors, DrawSettings(sample_size=2), seed=seed, **OCT)
        assert {a.case_id: a.auditor_id for a in result.allocations} == {"C-1": "B", "C-2": "A"}
        assert result.shortfall == []


def test_a_case_audited_in_the_last_twelve_months_is_not_drawn() -> None:
    cases = population({Service.FIRST_RESPONSE: 60})
    recent = {c.case_id for c in cases[:40]}
    for seed in range(20):
        result = draw(cases, roster(), DrawSettings(sample_size=15), seed=seed, recently_audited=recent, **OCT)
        assert len(result.allocations) == 15
        assert not recent & {a.case_id for a in result.allocations}


def test_only_cases_open_during_the_last_six_months_are_drawn() -> None:
    cases = [
        case("C-OPEN"),
        case("C-CLOSED-IN-WINDOW", closed=date(2013, 4, 2)),
        case("C-CLOSED-BEFORE", opened=date(2012, 1, 1), closed=date(2013, 3, 31)),
        case("C-NOT-YET-OPEN", opened=date(2013, 10, 2)),
    ]
    result = draw(cases, roster(), DrawSettings(), seed=3, **OCT)
    assert {a.case_id for a in result.allocations} == {"C-OPEN", "C-CLOSED-IN-WINDOW"}


def test_an_absent_or_inactive_auditor_gets_nothing() -> None:
    absent = auditor("X-ABSENT", capacity=50, absences=((date(2013, 10, 20), date(2013, 10, 25)),))
    gone = auditor("X-GONE", capacity=50, active=False)
    back = auditor("X-BACK", capacity=50, absences=((date(2013, 9, 1), date(2013, 9, 30)),))
    for seed in range(10):
        result = draw(population(SIZES), leads() + [absent, gone, back], DrawSettings(), seed=seed, **OCT)
        loads = result.loads
        assert "X-ABSENT" not in loads and "X-GONE" not in loads
        assert loads["X-BACK"] > 0


def test_each_allocation_records_its_services_lead_auditor_and_a_readable_explanation() -> None:
    result = draw(population(SIZES), roster(), DrawSettings(), seed=11, **OCT)
    for allocation in result.allocations:
        assert allocation.lead_auditor_id == f"L-{allocation.service.value}"
        assert allocation.due_on == date(2013, 10, 31)
        assert len(allocation.explanation) <= 500
        assert f"stratum {allocation.service.value}" in allocation.explanation
        assert f"draw position {allocation.draw_position}." in allocation.explanation
        assert f"Auditor {allocation.auditor_id}:" in allocation.explanation
    assert [a.draw_position for a in result.allocations] == list(range(1, 51))
    assert [a.audit_id for a in result.allocations][:2] == ["A-2013-10-001", "A-2013-10-002"]


def test_yearly_load_breaks_ties_so_the_year_is_shared_out() -> None:
    auditors = leads() + [auditor(f"X-{i}", capacity=5) for i in range(10)]
    prior = {f"X-{i}": 3 for i in range(5)}  # X-0..X-4 already had work this year
    result = draw(population(SIZES), auditors, DrawSettings(sample_size=5), seed=4, prior_load=prior, **OCT)
    leads_ids = {a.auditor_id for a in leads()}
    assert set(result.loads) <= {f"X-{i}" for i in range(5, 10)} | leads_ids


# ---------------------------------------------------------------- when fifty is impossible


def test_too_few_eligible_cases_allocates_what_it_can_and_says_why() -> None:
    cases = population({Service.FIRST_RESPONSE: 20, Service.CHILDREN_IN_CARE: 10})
    recent = {cases[0].case_id, cases[1].case_id}
    result = draw(cases, roster(), DrawSettings(), seed=1, recently_audited=recent, **OCT)
    assert len(result.allocations) == 28
    reasons = {s.code: s for s in result.shortfall}
    assert reasons["population"].message == (
        "only 28 eligible cases: 30 open in the 6 months to 2013-10-01, 2 of them audited in the last 12 months")
    assert reasons["population"].count == 22


def test_too_little_auditor_capacity_allocates_what_it_can_and_says_why() -> None:
    auditors = leads() + [auditor("X-ABSENT", capacity=9, absences=((date(2013, 10, 7), date(2013, 10, 9)),))]
    result = draw(population(SIZES), auditors, DrawSettings(), seed=1, **OCT)
    assert len(result.allocations) == 18  # six leads with capacity three
    capacity = next(s for s in result.shortfall if s.code == "capacity")
    assert capacity.count == 32
    assert "can take 18 audits: 6 available from 2013-10-01 to 2013-10-31, 1 absent" in capacity.message
    assert set(Counter(a.service for a in result.allocations)) == set(SERVICES)  # still every service


def test_a_service_without_a_lead_auditor_is_named_and_its_cases_not_allocated() -> None:
    auditors = [a for a in roster() if a.auditor_id != "L-disabled-children"]
    result = draw(population(SIZES), auditors, DrawSettings(), seed=1, **OCT)
    assert len(result.allocations) == 50
    assert Service.DISABLED_CHILDREN not in {a.service for a in result.allocations}
    no_lead = next(s for s in result.shortfall if s.code == "no-lead")
    assert no_lead.message == "no lead auditor on the roster for disabled-children: its 100 open cases cannot be allocated"


def test_a_case_no_auditor_may_take_is_passed_over_and_replaced_from_its_stratum() -> None:
    # every auditor manages team T-LOCKED: its cases can never be audited
    cases = [case(f"C-L{i}", Service.CHILDREN_IN_CARE, team="T-LOCKED") for i in range(3)] + [
        case(f"C-F{i}", Service.CHILDREN_IN_CARE, team="T-FREE") for i in range(10)]
    auditors = [auditor("L", Service.CHILDREN_IN_CARE, lead=True, teams=("T-LOCKED",)),
                auditor("X", teams=("T-LOCKED",))]
    result = draw(cases, auditors, DrawSettings(sample_size=6), seed=8, **OCT)
    assert len(result.allocations) == 6
    assert all(a.case_id.startswith("C-F") for a in result.allocations)
    passed = [s for s in result.shortfall if s.code == "case-passed-over"]
    assert passed, "a replacement must be explained"
    assert all("every available auditor holds it or manages a team holding it" in s.message for s in passed)


def test_a_stratum_whose_every_case_is_blocked_is_reported_exhausted() -> None:
    cases = [case(f"C-L{i}", Service.CHILDREN_IN_CARE, team="T-LOCKED") for i in range(3)] + [
        case(f"C-F{i}", Service.FIRST_RESPONSE, team="T-FREE") for i in range(30)]
    auditors = [auditor("L1", Service.CHILDREN_IN_CARE, lead=True, teams=("T-LOCKED",)),
                auditor("L2", Service.FIRST_RESPONSE, lead=True, teams=("T-LOCKED",), capacity=50)]
    result = draw(cases, auditors, DrawSettings(sample_size=10), seed=2, **OCT)
    assert {a.service for a in result.allocations} == {Service.FIRST_RESPONSE}
    exhausted = next(s for s in result.shortfall if s.code == "stratum-exhausted")
    assert exhausted.service == Service.CHILDREN_IN_CARE
    assert "every eligible case was tried" in exhausted.message


@pytest.mark.parametrize("sample_size", [0, -1])
def test_a_sample_size_below_one_is_refused(sample_size: int) -> None:
    with pytest.raises(ValueError, match="sample_size"):
        DrawSettings(sample_size=sample_size)
