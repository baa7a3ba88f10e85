"""Drift rules at their edges: tolerance, tiny samples, grace periods, missing data, milestones, and
the flag/clear transitions (once per state)."""

from datetime import date

import pytest

from qaf_shared.vocabulary import AreaStatus, DriftKind, MilestoneStatus
from qaf_actions.domain.drift import (
    Figure,
    evaluate,
    evaluate_action,
    evaluate_indicator,
    figure_key,
    last_complete_month,
    transitions,
)
from qaf_actions.domain.plan import ActionPlan, Indicator, ProposedAction, load_plan
from qaf_actions.domain.stats import poisson_p_at_least, wilson_interval
from qaf_actions.app import packaged_plan_text

AS_OF = date(2013, 11, 14)  # last complete month: 2013-10
START = date(2013, 4, 1)


def proportion(**over: object) -> Indicator:
    data = {
        "indicator_id": "x.yes", "description": "Cases with X (% yes)",
        "figure": {"theme": "chronologies", "measure": "indicator-yes", "question_id": "chronology-up-to-date"},
        "kind": "proportion", "direction": "increase", "window_months": 3, "baseline": {"value": 60.0},
        "target": 90.0, "tolerance": 5.0, "grace_months": 3, "min_sample": 20,
    } | over
    return Indicator.model_validate(data)


def count(**over: object) -> Indicator:
    data = {
        "indicator_id": "x.complaints", "description": "Complaints about communication (per month)",
        "figure": {"theme": "responsiveness-to-families", "measure": "complaint", "category": "communication"},
        "kind": "monthly-count", "direction": "decrease", "window_months": 3, "baseline": {"value": 4.0},
        "target": 2.0, "tolerance": 0.5, "grace_months": 3, "min_sample": 0,
    } | over
    return Indicator.model_validate(data)


def figures(ind: Indicator, yes: int, n: int, period_end: str = "2013-10") -> dict:
    return {figure_key(ind.figure, ind.window_months, period_end): Figure(yes, n)}


def judge(ind: Indicator, yes: int, n: int, **kw: object) -> AreaStatus:
    return evaluate_indicator("chronologies", ind, figures(ind, yes, n), kw.get("as_of", AS_OF), START).status  # type: ignore[arg-type]


def test_wilson_interval_matches_the_textbook_values() -> None:
    ci = wilson_interval(3, 3)
    assert ci.low == pytest.approx(0.4385, abs=1e-4) and ci.high == 1.0
    ci = wilson_interval(45, 150)
    assert (ci.low, ci.high) == (pytest.approx(0.2332, abs=1e-3), pytest.approx(0.3767, abs=1e-3))


def test_exact_poisson_tail() -> None:
    assert poisson_p_at_least(0, 5.0) == 1.0
    assert poisson_p_at_least(1, 2.0) == pytest.approx(1 - 0.1353352832, abs=1e-9)
    assert poisson_p_at_least(30, 13.5) < 0.001


def test_a_clear_fall_well_beyond_tolerance_is_drift_with_the_wilson_interval_in_the_explanation() -> None:
    ind = proportion()
    result = evaluate_indicator("chronologies", ind, figures(ind, 45, 150), AS_OF, START)
    assert result.status is AreaStatus.DRIFTING
    assert "Wilson" in result.explanation and "30.0%" in result.explanation
    assert result.figures["ci_high"] < result.figures["tolerated"] == 55.0


def test_a_rate_from_three_cases_never_raises_a_flag_on_its_own() -> None:
    # 0 of 3 is far below the baseline, but 3 cases cannot tell it from chance
    assert judge(proportion(min_sample=0), 0, 3) is AreaStatus.AT_RISK
    # and below the minimum sample the indicator has no evidence to judge
    ind = proportion()
    result = evaluate_indicator("chronologies", ind, figures(ind, 0, 3), AS_OF, START)
    assert result.status is AreaStatus.NO_EVIDENCE and "fewer than the 20 needed" in result.explanation


def test_exactly_at_tolerance_is_not_beyond_it() -> None:
    # 110 of 200 = 55.0%: exactly the tolerated level (baseline 60 - tolerance 5)
    assert judge(proportion(), 110, 200) is AreaStatus.AT_RISK
    assert judge(proportion(tolerance=0.0), 120, 200) is AreaStatus.AT_RISK  # at the baseline: not moving
    # just beyond, with a sample large enough for the interval to clear the tolerated level
    assert judge(proportion(), 2000, 4000) is AreaStatus.DRIFTING


def test_improving_is_on_track_and_a_met_target_says_so() -> None:
    assert judge(proportion(), 100, 150) is AreaStatus.ON_TRACK
    ind = proportion()
    result = evaluate_indicator("chronologies", ind, figures(ind, 140, 150), AS_OF, START)
    assert result.status is AreaStatus.ON_TRACK and "target" in result.explanation


def test_the_trend_is_not_judged_in_the_grace_period() -> None:
    ind = proportion(grace_months=3)
    inside = evaluate_indicator("chronologies", ind, figures(ind, 10, 150, "2013-05"), date(2013, 6, 30), START)
    assert inside.status is AreaStatus.ON_TRACK and inside.in_grace and "grace period until 2013-07-01" in inside.explanation
    after = evaluate_indicator("chronologies", ind, figures(ind, 10, 150, "2013-06"), date(2013, 7, 1), START)
    assert after.status is AreaStatus.DRIFTING


def test_missing_data_is_no_evidence_and_a_stale_figure_inside_the_window_still_counts() -> None:
    ind = proportion()
    missing = evaluate_indicator("chronologies", ind, {}, AS_OF, START)
    assert missing.status is AreaStatus.NO_EVIDENCE and "no figures in the 3-month window ending 2013-10" in missing.explanation
    stale = evaluate_indicator("chronologies", ind, figures(ind, 45, 150, "2013-08"), AS_OF, START)
    assert stale.status is AreaStatus.DRIFTING and "latest figures end 2013-08" in stale.explanation
    too_old = evaluate_indicator("chronologies", ind, figures(ind, 45, 150, "2013-07"), AS_OF, START)
    assert too_old.status is AreaStatus.NO_EVIDENCE
    empty = evaluate_indicator("chronologies", ind, figures(ind, 0, 0), AS_OF, START)
    assert empty.status is AreaStatus.NO_EVIDENCE


def test_counts_use_the_exact_poisson_test() -> None:
    ind = count()
    # 30 complaints in 3 months against a tolerated 4.5 a month (13.5 expected): drift
    drifting = evaluate_indicator("responsiveness-to-families", ind, figures(ind, 30, 2500), AS_OF, START)
    assert drifting.status is AreaStatus.DRIFTING and "exact Poisson" in drifting.explanation
    # 16 in 3 months (5.3 a month) is above the tolerated rate, but p > 0.025: at risk, no flag
    assert evaluate_indicator("responsiveness-to-families", ind, figures(ind, 16, 2500), AS_OF, START).status is AreaStatus.AT_RISK
    # no complaints is evidence, and the target is met
    assert evaluate_indicator("responsiveness-to-families", ind, figures(ind, 0, 2500), AS_OF, START).status is AreaStatus.ON_TRACK


def test_a_baseline_period_with_figures_wins_over_the_stated_value() -> None:
    ind = count(baseline={"period": "2012-13", "value": 4.0})
    figs = figures(ind, 30, 2500) | {figure_key(ind.figure, 12, "2013-03"): Figure(120, 2500)}  # 10 a month
    result = evaluate_indicator("responsiveness-to-families", ind, figs, AS_OF, START)
    assert result.figures["baseline"] == 10.0 and result.status is AreaStatus.AT_RISK
    assert "2012-13 figure" in result.explanation


def action(**over: object) -> ProposedAction:
    return ProposedAction.model_validate({"action_id": "a.1", "text": "Do it"} | over)


def test_a_milestone_drifts_the_day_after_its_date_unless_done() -> None:
    due = action(date_as_written="June 13")
    assert evaluate_action("a", due, [], date(2013, 6, 30)).status is AreaStatus.ON_TRACK
    late = evaluate_action("a", due, [(date(2013, 5, 1), MilestoneStatus.IN_PROGRESS)], date(2013, 7, 1))
    assert late.status is AreaStatus.DRIFTING and "was due by 2013-06-30 (June 13)" in late.explanation
    done = [(date(2013, 6, 20), MilestoneStatus.DONE)]
    assert evaluate_action("a", due, done, date(2013, 7, 1)).status is AreaStatus.ON_TRACK
    # a report made after the as-of date does not count as of that date
    assert evaluate_action("a", due, [(date(2013, 7, 5), MilestoneStatus.DONE)], date(2013, 7, 1)).status is AreaStatus.DRIFTING


def test_an_ongoing_action_must_have_started_and_a_blocked_one_is_at_risk() -> None:
    ongoing = action(date_as_written="from December 12")
    assert evaluate_action("a", ongoing, [], date(2012, 12, 31)).status is AreaStatus.ON_TRACK
    assert evaluate_action("a", ongoing, [], date(2013, 1, 1)).status is AreaStatus.DRIFTING
    assert evaluate_action("a", ongoing, [(date(2013, 1, 1), MilestoneStatus.IN_PROGRESS)], date(2013, 2, 1)).status is AreaStatus.ON_TRACK
    undated = action()
    assert evaluate_action("a", undated, [(date(2013, 1, 1), MilestoneStatus.BLOCKED)], date(2013, 2, 1)).status is AreaStatus.AT_RISK
    ranged = action(date_as_written="Feb – July 13")
    assert evaluate_action("a", ranged, [], date(2013, 3, 1)).status is AreaStatus.AT_RISK


@pytest.fixture(scope="module")
def plan() -> ActionPlan:
    return load_plan(packaged_plan_text())


def all_done(plan: ActionPlan, when: date) -> dict:
    return {a.action_id: [(when, MilestoneStatus.DONE)] for area in plan.areas for a in area.actions}


def test_evaluation_is_deterministic_and_names_every_area(plan: ActionPlan) -> None:
    ms = all_done(plan, date(2013, 4, 1))
    first = evaluate(plan, {}, ms, AS_OF)
    assert first == evaluate(plan, {}, ms, AS_OF)
    assert len(first.areas) == 11
    assert all(a.status is AreaStatus.NO_EVIDENCE for a in first.areas)
    assert {f.kind for f in first.findings} == {DriftKind.NO_EVIDENCE}


def test_flags_are_raised_once_and_cleared_once(plan: ActionPlan) -> None:
    ind = plan.area("responsiveness-to-families").indicators[0]  # type: ignore[union-attr]
    ms = all_done(plan, date(2013, 4, 1))
    drifting = evaluate(plan, figures(ind, 30, 2500, "2013-09"), ms, date(2013, 10, 5))
    first = transitions({}, drifting)
    trend = [t for t in first if t.kind is DriftKind.TREND]
    assert [(t.change, t.area_id, t.subject_id, t.status) for t in trend] == [
        ("flagged", "responsiveness-to-families", ind.indicator_id, AreaStatus.DRIFTING)
    ]
    active = {(t.area_id, t.kind.value, t.subject_id): t.indicator_id for t in first}
    assert transitions(active, drifting) == []  # the same state again: nothing
    recovered = evaluate(plan, figures(ind, 9, 2500, "2013-10"), ms, date(2013, 11, 3))
    changes = transitions(active, recovered)
    assert [(t.change, t.kind) for t in changes if t.subject_id == ind.indicator_id] == [("cleared", DriftKind.TREND)]


def test_last_complete_month() -> None:
    assert last_complete_month(date(2013, 11, 14)) == "2013-10"
    assert last_complete_month(date(2013, 10, 31)) == "2013-10"
    assert last_complete_month(date(2014, 1, 1)) == "2013-12"
