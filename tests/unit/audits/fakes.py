"""Small builders for the domain's values."""

from __future__ import annotations

from datetime import UTC, date, datetime

from qaf_shared.vocabulary import Service

from qaf_audits.adapters.template_files import packaged_templates
from qaf_audits.domain.audits import AnswerEntry, Audit, DomainEntry, Submission, ThemeEntry
from qaf_audits.domain.templates import Template

ALLOCATED_AT = datetime(2013, 10, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2013, 10, 20, 12, 0, tzinfo=UTC)


def light_touch() -> Template:
    return next(t for t in packaged_templates() if t.id == "light-touch")


def audit(**changes) -> Audit:
    values = dict(
        audit_id="A-2013-10-001", case_id="C-1", service=Service.FIRST_RESPONSE, team_id="T-FR-1",
        auditor_id="M-1", lead_auditor_id="M-LEAD", team_manager_id="M-TM", template_id="light-touch",
        template_version=1, due_on=date(2013, 10, 31), allocated_at=ALLOCATED_AT, month="2013-10",
    )
    values.update(changes)
    return Audit(**values)


def submission(template: Template, *, grades: dict[str, str] | None = None, **changes) -> Submission:
    """A complete, valid submission: every domain graded good, every question answered yes."""
    grades = grades if grades is not None else {d.id: "good" for d in template.domains}
    values = dict(
        completed_at=datetime(2013, 10, 18, 15, 0, tzinfo=UTC),
        domains=[DomainEntry(d, g, evidence="notes on file") for d, g in grades.items()],
        answers=[AnswerEntry(q.id, "yes") for q in template.questions],
        social_worker_participated=True,
        parents_spoken_to=True,
        child_spoken_to=False,
    )
    values.update(changes)
    return Submission(**values)


__all__ = ["ALLOCATED_AT", "NOW", "AnswerEntry", "DomainEntry", "ThemeEntry", "audit", "light_touch", "submission"]
