"""The action plan data file is Appendix 1, whole; the report's dates are read as they are meant."""

from datetime import date

import pytest
from pydantic import ValidationError

from qaf_shared.vocabulary import ACTION_PLAN_THEMES
from qaf_actions.domain.plan import ActionPlan, Area, PlanDateError, baseline_period, load_plan, parse_plan_date
from qaf_actions.app import packaged_plan_text


@pytest.fixture(scope="module")
def plan() -> ActionPlan:
    return load_plan(packaged_plan_text())


def test_the_plan_has_the_eleven_areas_of_appendix_1_in_the_report_order(plan: ActionPlan) -> None:
    assert [a.area_id.value for a in plan.areas] == [
        "strategy-meetings", "chronologies", "timeliness-drift", "responsiveness-to-families", "supervision",
        "case-transfer", "professional-challenge", "thresholds", "conference-core-group-roles", "fathers",
        "early-help",
    ]
    assert {a.area_id for a in plan.areas} == ACTION_PLAN_THEMES
    assert all(a.indicators for a in plan.areas), "every area has at least one measurable indicator"


def test_texts_dates_and_owners_are_as_written_in_the_report(plan: ActionPlan) -> None:
    timeliness = plan.area("timeliness-drift")
    assert timeliness is not None
    assert [(a.text, a.date_as_written, a.due_on) for a in timeliness.actions] == [
        ("Tri-borough court project", "June 13", date(2013, 6, 30)),
        ("Charge in transfer point for Child protection cases", "April 2013", date(2013, 4, 30)),
        ("Adoption improvement plan", None, None),
    ]
    strategy = plan.area("strategy-meetings")
    assert strategy is not None and strategy.actions[0].owner_as_named == "First Response"
    assert strategy.actions[0].starts_on == date(2012, 12, 1) and strategy.actions[0].due_on is None
    thresholds = plan.area("thresholds")
    assert thresholds is not None and thresholds.actions[0].owner_id == "lscb"
    roles = plan.area("conference-core-group-roles")
    assert roles is not None and (roles.actions[0].starts_on, roles.actions[0].due_on) == (date(2013, 2, 1), date(2013, 7, 31))
    responsiveness = plan.area("responsiveness-to-families")
    assert responsiveness is not None
    assert responsiveness.expected_outcome.startswith("Reduction in complaints about communication")
    first = responsiveness.indicators[0]
    assert (first.figure.measure, first.figure.category, first.direction, first.baseline.period) == (
        "complaint", "communication", "decrease", "2012-13")
    early = plan.area("early-help")
    assert early is not None and early.area_of_concern == "Early help approach not embedded"


def test_every_parsed_date_agrees_with_the_date_as_written(plan: ActionPlan) -> None:
    for area in plan.areas:
        for action in area.actions:
            assert parse_plan_date(action.date_as_written) == (action.starts_on, action.due_on), action.action_id


@pytest.mark.parametrize(
    ("written", "meaning"),
    [
        ("from December 12", (date(2012, 12, 1), None)),
        ("June 13", (None, date(2013, 6, 30))),
        ("April 2013", (None, date(2013, 4, 30))),
        ("February 13", (None, date(2013, 2, 28))),
        ("Feb – July 13", (date(2013, 2, 1), date(2013, 7, 31))),
        ("Nov - Feb 14", (date(2013, 11, 1), date(2014, 2, 28))),
        ("2013-14", (date(2013, 4, 1), date(2014, 3, 31))),
        (None, (None, None)),
        ("", (None, None)),
    ],
)
def test_plan_dates_are_read_as_meant(written: str | None, meaning: tuple[date | None, date | None]) -> None:
    assert parse_plan_date(written) == meaning


@pytest.mark.parametrize("written", ["soon", "Jumember 13", "2013-15", "from 12"])
def test_an_unreadable_date_is_refused_with_the_text(written: str) -> None:
    with pytest.raises(PlanDateError, match="cannot read|not a month|not a financial year"):
        parse_plan_date(written)


def test_an_edited_area_is_validated(plan: ActionPlan) -> None:
    area = plan.area("fathers")
    assert area is not None
    data = area.model_dump(mode="json")
    data["actions"][0] = {"action_id": "fathers.1", "text": "Training", "date_as_written": "Sept 14"}
    edited = Area.model_validate(data)
    assert edited.actions[0].due_on == date(2014, 9, 30)
    data["area_id"] = "recording"
    with pytest.raises(ValidationError, match="eleven action plan themes"):
        Area.model_validate(data)
    data["area_id"] = "fathers"
    data["indicators"][0]["baseline"] = {}
    with pytest.raises(ValidationError, match="baseline needs a value or a period"):
        Area.model_validate(data)


def test_baseline_periods() -> None:
    assert baseline_period("2012-13", 3) == ("2013-03", 12)
    assert baseline_period("2013-06", 3) == ("2013-06", 3)
