"""Validation and grading rules of a completed audit, and the events it gives rise to."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from qaf_shared.envelope import new_envelope
from qaf_shared.vocabulary import Answer, ConcernReason, Grade, Severity, Theme

from qaf_audits.domain import events
from qaf_audits.domain.audits import (
    AuditStatus,
    SubmissionInvalid,
    combine_themes,
    overall_grade,
    validate_submission,
)
from tests.unit.audits.fakes import NOW, AnswerEntry, DomainEntry, ThemeEntry, audit, light_touch, submission


def errors_of(sub, *, on=None) -> dict[str, str]:
    with pytest.raises(SubmissionInvalid) as refused:
        validate_submission(light_touch(), on or audit(), sub, now=NOW)
    return {e.field: e.message for e in refused.value.errors}


def test_a_complete_submission_is_valid_and_keeps_its_codes() -> None:
    valid = validate_submission(light_touch(), audit(), submission(light_touch()), now=NOW)
    assert valid.grades == {d.id: Grade.GOOD for d in light_touch().domains}
    assert ("fathers-included", Theme.FATHERS, Answer.YES) in valid.answers
    assert valid.overall_grade is Grade.GOOD
    assert valid.concern_reason is None


def test_every_mandatory_domain_must_be_graded_but_the_pathway_plan_only_where_it_applies() -> None:
    grades = {d.id: "good" for d in light_touch().domains if d.id not in ("supervision", "adoption-pathway-plan")}
    problems = errors_of(submission(light_touch(), grades=grades))
    assert problems == {"domains": "domain 'supervision' must be graded"}


def test_grades_must_come_from_the_four_point_scale() -> None:
    grades = {d.id: "good" for d in light_touch().domains}
    grades["assessment"] = "excellent"
    problems = errors_of(submission(light_touch(), grades=grades))
    assert list(problems) == ["domains[1].grade"]
    assert "four-point scale" in problems["domains[1].grade"]


def test_a_domain_not_in_the_template_or_graded_twice_is_named() -> None:
    template = light_touch()
    sub = submission(template)
    sub = replace(sub, domains=[*sub.domains, DomainEntry("housing", "good"), DomainEntry("assessment", "good")])
    problems = errors_of(sub)
    last = len(sub.domains) - 1
    assert set(problems) == {f"domains[{last - 1}].domain", f"domains[{last}].domain"}
    assert "not a domain" in problems[f"domains[{last - 1}].domain"]
    assert "more than once" in problems[f"domains[{last}].domain"]


def test_every_mandatory_question_must_be_answered_from_yes_no_not_applicable() -> None:
    template = light_touch()
    answers = [AnswerEntry(q.id, "yes") for q in template.questions if q.id != "early-help-offered"]
    answers[0] = AnswerEntry(answers[0].question_id, "maybe")
    problems = errors_of(submission(template, answers=answers))
    assert problems == {
        "answers[0].answer": "'maybe' is not an answer (yes, no, not-applicable)",
        "answers": "question 'early-help-offered' must be answered",
    }


def test_themes_must_come_from_the_vocabulary_with_a_known_severity() -> None:
    template = light_touch()
    sub = submission(template)
    first = replace(sub.domains[0], themes=[ThemeEntry("housing", "minor"), ThemeEntry("fathers", "dreadful")])
    problems = errors_of(replace(sub, domains=[first, *sub.domains[1:]]))
    assert set(problems) == {"domains[0].themes[0].theme", "domains[0].themes[1].severity"}


def test_completion_cannot_be_before_allocation_nor_in_the_future() -> None:
    before = errors_of(submission(light_touch(), completed_at=datetime(2013, 9, 30, 23, 0, tzinfo=UTC)))
    assert before == {"completed_at": "2013-09-30 is before the audit was allocated (2013-10-01)"}
    future = errors_of(submission(light_touch(), completed_at=datetime(2014, 1, 1, tzinfo=UTC)))
    assert future == {"completed_at": "is in the future"}
    same_day = submission(light_touch(), completed_at=datetime(2013, 10, 1, 8, 0, tzinfo=UTC))
    assert validate_submission(light_touch(), audit(), same_day, now=NOW)


def test_the_overall_grade_is_the_median_rounded_to_the_worse_grade_unless_given() -> None:
    assert overall_grade([Grade.GOOD, Grade.GOOD, Grade.INADEQUATE]) is Grade.GOOD
    assert overall_grade([Grade.GOOD, Grade.REQUIRES_IMPROVEMENT]) is Grade.REQUIRES_IMPROVEMENT
    assert overall_grade([Grade.OUTSTANDING]) is Grade.OUTSTANDING
    given = submission(light_touch(), overall_grade="requires-improvement")
    assert validate_submission(light_touch(), audit(), given, now=NOW).overall_grade is Grade.REQUIRES_IMPROVEMENT
    assert errors_of(submission(light_touch(), overall_grade="fine")) == {
        "overall_grade": "'fine' is not on the four-point scale (outstanding, good, requires-improvement, inadequate)"
    }


def test_a_theme_found_in_several_domains_is_reported_once_at_its_most_serious() -> None:
    combined = combine_themes([(Theme.SUPERVISION, Severity.STRENGTH), (Theme.SUPERVISION, Severity.SIGNIFICANT),
                               (Theme.FATHERS, Severity.MINOR), (Theme.SUPERVISION, Severity.MINOR)])
    assert combined == ((Theme.FATHERS, Severity.MINOR), (Theme.SUPERVISION, Severity.SIGNIFICANT))


@pytest.mark.parametrize(
    ("inadequate", "flagged", "reason"),
    [
        (False, False, None),
        (True, False, ConcernReason.INADEQUATE_GRADE),
        (False, True, ConcernReason.SAFEGUARDING_CONCERN),
        (True, True, ConcernReason.SAFEGUARDING_CONCERN),
    ],
)
def test_poor_practice_or_a_safeguarding_flag_raises_one_concern(inadequate, flagged, reason) -> None:
    template = light_touch()
    grades = {d.id: "good" for d in template.domains}
    if inadequate:
        grades["planning"] = "inadequate"
    valid = validate_submission(template, audit(), submission(template, grades=grades, safeguarding_concern=flagged),
                                now=NOW)
    concern = events.practice_concern(audit(), valid)
    assert valid.concern_reason is reason
    if reason is None:
        assert concern is None
    else:
        assert concern.reason is reason
        assert concern.team_manager_id == "M-TM"
        assert concern.domains == (["planning"] if inadequate else [])


def test_a_concern_goes_to_the_lead_auditor_when_the_cases_manager_is_unknown() -> None:
    template = light_touch()
    grades = {d.id: "inadequate" for d in template.domains}
    without_manager = audit(team_manager_id=None)
    valid = validate_submission(template, without_manager, submission(template, grades=grades), now=NOW)
    assert events.practice_concern(without_manager, valid).team_manager_id == "M-LEAD"


def test_the_completed_event_carries_codes_and_never_the_free_text() -> None:
    template = light_touch()
    secret = "Mother disclosed that the family moved to 12 Example Road"
    sub = submission(template, summary=secret)
    sub = replace(sub, domains=[replace(d, evidence=secret, themes=[ThemeEntry("fathers", "significant")])
                                for d in sub.domains])
    valid = validate_submission(template, audit(), sub, now=NOW)
    completed = events.audit_completed(audit(), template.version, valid)
    body = new_envelope(completed, source="audits").to_bytes().decode()
    assert secret not in body and "Example Road" not in body
    assert completed.template_id == "light-touch" and completed.template_version == 1
    assert [(t.theme, t.severity) for t in completed.themes] == [(Theme.FATHERS, Severity.SIGNIFICANT)]
    assert len(completed.indicator_answers) == len(template.questions)
    assert completed.completed_at == sub.completed_at


@pytest.mark.parametrize(
    ("principal", "role", "allowed"),
    [
        ("M-1", "auditor", True),
        ("M-2", "auditor", False),
        ("M-LEAD", "lead-auditor", True),
        ("M-OTHER-LEAD", "lead-auditor", False),
        ("M-LEAD", "auditor", False),
        ("U-QA", "qa-admin", True),
        ("M-1", "reporting", False),
    ],
)
def test_who_may_submit_an_audit(principal, role, allowed) -> None:
    assert audit().may_submit(principal, role) is allowed


def test_an_audit_is_overdue_from_the_day_after_it_was_due_while_pending() -> None:
    pending = audit(due_on=date(2013, 10, 31))
    assert not pending.is_overdue(date(2013, 10, 31))
    assert pending.is_overdue(date(2013, 11, 1))
    assert not replace(pending, status=AuditStatus.COMPLETED).is_overdue(date(2014, 1, 1))
    assert events.overdue_occurred_at(pending) == datetime(2013, 11, 1, tzinfo=UTC)
