"""The audit and the rules of its completion: validation, the overall grade, themes, concerns.

Pure: no I/O. A submission arrives as plain values (strings for codes, so a wrong code is reported
against its field rather than refused wholesale); `validate_submission` either returns a
`ValidSubmission` with every code resolved, or raises `SubmissionInvalid` listing one message per
faulty field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from qaf_shared.errors import FieldError, Invalid
from qaf_shared.vocabulary import Answer, ConcernReason, Grade, Service, Severity, Theme

from qaf_audits.domain.templates import Template

MAX_EVIDENCE_CHARS = 20_000
# A completion dated in the future beyond this much clock skew is a typing mistake.
FUTURE_TOLERANCE = timedelta(days=1)

GRADE_ORDER: tuple[Grade, ...] = (Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE)
SEVERITY_ORDER: tuple[Severity, ...] = (Severity.STRENGTH, Severity.MINOR, Severity.SIGNIFICANT, Severity.SERIOUS)


class AuditStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Audit:
    """An allocated audit, as this service holds it."""

    audit_id: str
    case_id: str
    service: Service
    team_id: str
    auditor_id: str
    lead_auditor_id: str
    template_id: str
    due_on: date
    allocated_at: datetime
    month: str | None = None
    team_manager_id: str | None = None
    template_version: int | None = None
    status: AuditStatus = AuditStatus.PENDING
    overdue_flagged: bool = False

    def may_submit(self, principal: str, role: str) -> bool:
        """An auditor submits only their own audits; a lead auditor those of their service; qa-admin any."""
        if role == "qa-admin":
            return True
        if role == "auditor":
            return principal == self.auditor_id
        if role == "lead-auditor":
            return principal in (self.lead_auditor_id, self.auditor_id)
        return False

    @property
    def concern_manager_id(self) -> str:
        """Where poor practice goes: the case's team manager, else the service's lead auditor."""
        return self.team_manager_id or self.lead_auditor_id

    def is_overdue(self, as_of: date) -> bool:
        """Not completed by its due date: overdue from the day after `due_on`."""
        return self.status is AuditStatus.PENDING and as_of > self.due_on


# --- What arrives ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeEntry:
    theme: str
    severity: str


@dataclass(frozen=True)
class DomainEntry:
    domain: str
    grade: str | None
    evidence: str = ""
    themes: Sequence[ThemeEntry] = ()


@dataclass(frozen=True)
class AnswerEntry:
    question_id: str
    answer: str


@dataclass(frozen=True)
class Submission:
    completed_at: datetime
    domains: Sequence[DomainEntry]
    answers: Sequence[AnswerEntry] = ()
    social_worker_participated: bool = False
    parents_spoken_to: bool = False
    child_spoken_to: bool = False
    safeguarding_concern: bool = False
    overall_grade: str | None = None
    summary: str = ""


# --- What it becomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GradedDomain:
    domain: str
    grade: Grade
    evidence: str
    themes: tuple[tuple[Theme, Severity], ...]


@dataclass(frozen=True)
class ValidSubmission:
    completed_at: datetime
    domains: tuple[GradedDomain, ...]
    answers: tuple[tuple[str, Theme, Answer], ...]
    overall_grade: Grade
    themes: tuple[tuple[Theme, Severity], ...]
    social_worker_participated: bool
    parents_spoken_to: bool
    child_spoken_to: bool
    safeguarding_concern: bool
    summary: str = ""

    @property
    def grades(self) -> dict[str, Grade]:
        return {d.domain: d.grade for d in self.domains}

    @property
    def inadequate_domains(self) -> list[str]:
        return [d.domain for d in self.domains if d.grade is Grade.INADEQUATE]

    @property
    def concern_reason(self) -> ConcernReason | None:
        """Quality control: a flagged safeguarding concern, or an inadequate grade in any domain."""
        if self.safeguarding_concern:
            return ConcernReason.SAFEGUARDING_CONCERN
        if self.inadequate_domains:
            return ConcernReason.INADEQUATE_GRADE
        return None


class SubmissionInvalid(Invalid):
    pass


def _choices(enum: type[StrEnum]) -> str:
    return ", ".join(m.value for m in enum)


def overall_grade(grades: Iterable[Grade]) -> Grade:
    """The median domain grade, rounded toward the worse grade when the count is even."""
    ranks = sorted(GRADE_ORDER.index(g) for g in grades)
    if not ranks:
        raise ValueError("no grades to summarise")
    return GRADE_ORDER[ranks[len(ranks) // 2]]


def combine_themes(findings: Iterable[tuple[Theme, Severity]]) -> tuple[tuple[Theme, Severity], ...]:
    """One finding per theme: the most serious severity any domain gave it."""
    worst: dict[Theme, Severity] = {}
    for theme, severity in findings:
        if theme not in worst or SEVERITY_ORDER.index(severity) > SEVERITY_ORDER.index(worst[theme]):
            worst[theme] = severity
    return tuple(sorted(worst.items(), key=lambda item: item[0].value))


def validate_submission(
    template: Template, audit: Audit, submission: Submission, *, now: datetime
) -> ValidSubmission:
    errors: list[FieldError] = []

    graded: list[GradedDomain] = []
    seen_domains: set[str] = set()
    for i, entry in enumerate(submission.domains):
        where = f"domains[{i}]"
        definition = template.domain(entry.domain)
        if definition is None:
            errors.append(FieldError(f"{where}.domain", f"{entry.domain!r} is not a domain of template "
                                     f"{template.id} v{template.version}"))
            continue
        if entry.domain in seen_domains:
            errors.append(FieldError(f"{where}.domain", f"{entry.domain!r} is graded more than once"))
            continue
        seen_domains.add(entry.domain)
        grade: Grade | None = None
        if entry.grade is None:
            errors.append(FieldError(f"{where}.grade", "a grade is required"))
        elif entry.grade not in Grade._value2member_map_:
            errors.append(FieldError(f"{where}.grade", f"{entry.grade!r} is not on the four-point scale "
                                     f"({_choices(Grade)})"))
        else:
            grade = Grade(entry.grade)
        if len(entry.evidence) > MAX_EVIDENCE_CHARS:
            errors.append(FieldError(f"{where}.evidence", f"must be at most {MAX_EVIDENCE_CHARS} characters"))
        themes: list[tuple[Theme, Severity]] = []
        for j, finding in enumerate(entry.themes):
            ok = True
            if finding.theme not in Theme._value2member_map_:
                errors.append(FieldError(f"{where}.themes[{j}].theme",
                                         f"{finding.theme!r} is not a theme of the shared vocabulary"))
                ok = False
            if finding.severity not in Severity._value2member_map_:
                errors.append(FieldError(f"{where}.themes[{j}].severity",
                                         f"{finding.severity!r} is not a severity ({_choices(Severity)})"))
                ok = False
            if ok:
                themes.append((Theme(finding.theme), Severity(finding.severity)))
        if grade is not None:
            graded.append(GradedDomain(entry.domain, grade, entry.evidence, combine_themes(themes)))
    for definition in template.domains:
        if definition.mandatory and definition.id not in seen_domains:
            errors.append(FieldError("domains", f"domain {definition.id!r} must be graded"))

    answers: list[tuple[str, Theme, Answer]] = []
    seen_questions: set[str] = set()
    for i, entry in enumerate(submission.answers):
        where = f"answers[{i}]"
        question = template.question(entry.question_id)
        if question is None:
            errors.append(FieldError(f"{where}.question_id", f"{entry.question_id!r} is not a question of "
                                     f"template {template.id} v{template.version}"))
            continue
        if entry.question_id in seen_questions:
            errors.append(FieldError(f"{where}.question_id", f"{entry.question_id!r} is answered more than once"))
            continue
        seen_questions.add(entry.question_id)
        if entry.answer not in Answer._value2member_map_:
            errors.append(FieldError(f"{where}.answer", f"{entry.answer!r} is not an answer ({_choices(Answer)})"))
            continue
        answers.append((question.id, question.theme, Answer(entry.answer)))
    for question in template.questions:
        if question.mandatory and question.id not in seen_questions:
            errors.append(FieldError("answers", f"question {question.id!r} must be answered"))

    overall: Grade | None = None
    if submission.overall_grade is not None:
        if submission.overall_grade not in Grade._value2member_map_:
            errors.append(FieldError("overall_grade", f"{submission.overall_grade!r} is not on the four-point "
                                     f"scale ({_choices(Grade)})"))
        else:
            overall = Grade(submission.overall_grade)

    completed_on = submission.completed_at.date()
    if completed_on < audit.allocated_at.date():
        errors.append(FieldError("completed_at", f"{completed_on.isoformat()} is before the audit was allocated "
                                 f"({audit.allocated_at.date().isoformat()})"))
    if submission.completed_at > now + FUTURE_TOLERANCE:
        errors.append(FieldError("completed_at", "is in the future"))
    if len(submission.summary) > MAX_EVIDENCE_CHARS:
        errors.append(FieldError("summary", f"must be at most {MAX_EVIDENCE_CHARS} characters"))

    if errors:
        raise SubmissionInvalid(errors)
    return ValidSubmission(
        completed_at=submission.completed_at,
        domains=tuple(graded),
        answers=tuple(answers),
        overall_grade=overall or overall_grade(d.grade for d in graded),
        themes=combine_themes(f for d in graded for f in d.themes),
        social_worker_participated=submission.social_worker_participated,
        parents_spoken_to=submission.parents_spoken_to,
        child_spoken_to=submission.child_spoken_to,
        safeguarding_concern=submission.safeguarding_concern,
        summary=submission.summary,
    )
