"""The templates shipped with the service, and the rules a template definition must meet."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from qaf_shared.vocabulary import ACTION_PLAN_THEMES, Theme

from qaf_audits.adapters.template_files import packaged_templates, read_template_file
from qaf_audits.domain.templates import TemplateInvalid, TemplateKind, parse_template

# Question ids other services rely on (the actions service watches them as indicators).
STABLE_QUESTION_IDS = {
    "strategy-meeting-multi-agency": Theme.STRATEGY_MEETINGS,
    "chronology-up-to-date": Theme.CHRONOLOGIES,
    "work-to-timescale": Theme.TIMELINESS_DRIFT,
    "response-timely": Theme.RESPONSIVENESS_TO_FAMILIES,
    "supervision-regular-reflective": Theme.SUPERVISION,
    "transfer-minimised-impact": Theme.CASE_TRANSFER,
    "professional-challenge": Theme.PROFESSIONAL_CHALLENGE,
    "threshold-appropriate": Theme.THRESHOLDS,
    "core-group-roles-clear": Theme.CONFERENCE_CORE_GROUP_ROLES,
    "fathers-included": Theme.FATHERS,
    "early-help-offered": Theme.EARLY_HELP,
}


@pytest.fixture
def light_touch():
    (template,) = [t for t in packaged_templates() if t.id == "light-touch" and t.version == 1]
    return template


def themed(**changes):
    data = {
        "id": "domestic-violence",
        "kind": "themed",
        "title": "Domestic violence themed audit",
        "domains": [{"id": "risk-assessment", "title": "Risk assessment"}],
        "questions": [{"id": "marac-referral", "text": "Was a MARAC referral made?", "theme": "safeguarding-risk"}],
    }
    data.update(changes)
    return data


def test_the_light_touch_template_follows_the_childs_journey_over_six_months(light_touch) -> None:
    assert light_touch.kind is TemplateKind.LIGHT_TOUCH
    assert light_touch.review_window_months == 6
    assert [d.id for d in light_touch.domains] == [
        "referral-and-response", "assessment", "planning", "review", "adoption-pathway-plan",
        "management-oversight", "recording", "supervision",
    ]


def test_the_light_touch_questions_cover_all_eleven_action_plan_areas(light_touch) -> None:
    assert light_touch.action_plan_areas_covered == ACTION_PLAN_THEMES
    for question_id, theme in STABLE_QUESTION_IDS.items():
        question = light_touch.question(question_id)
        assert question is not None, question_id
        assert question.theme is theme


def test_a_light_touch_template_missing_an_action_plan_area_is_refused(light_touch) -> None:
    data = copy.deepcopy(dict(light_touch.definition))
    data["questions"] = [q for q in data["questions"] if q["theme"] != "fathers"]
    with pytest.raises(TemplateInvalid) as refused:
        parse_template(data)
    assert refused.value.errors[0].field == "questions"
    assert "fathers" in refused.value.errors[0].message


def test_each_faulty_field_of_a_template_is_named() -> None:
    data = themed(
        id="has spaces",
        domains=[{"id": "a", "title": "A"}, {"id": "a", "title": "again"}],
        questions=[{"id": "q1", "text": "?", "theme": "not-a-theme", "domain": "nowhere"}],
        review_window_months=0,
    )
    with pytest.raises(TemplateInvalid) as refused:
        parse_template(data)
    fields = {e.field for e in refused.value.errors}
    assert fields == {"id", "domains", "questions[0].theme", "questions[0].domain", "review_window_months"}


def test_a_templates_digest_changes_with_its_content_but_not_its_version() -> None:
    one = parse_template(themed(), version=1)
    assert parse_template(themed(), version=2).digest == one.digest
    assert parse_template(themed(title="Domestic abuse themed audit")).digest != one.digest


def test_question_ids_are_unique_within_a_template() -> None:
    question = {"id": "q", "text": "?", "theme": "fathers"}
    with pytest.raises(TemplateInvalid, match="'q' is used more than once"):
        parse_template(themed(questions=[question, question]))


EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "audits" / "examples" / "themed"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_example_themed_templates_of_the_report_are_valid(path: Path) -> None:
    template = read_template_file(path)
    assert template.kind is TemplateKind.THEMED and template.id == path.stem
