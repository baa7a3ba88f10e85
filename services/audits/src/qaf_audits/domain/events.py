"""The events an audit gives rise to, built from domain facts. Codes and ids only: no free text."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

from qaf_shared.contracts.audits import (
    AuditCompleted,
    AuditOverdue,
    DomainGrade,
    IndicatorAnswer,
    PracticeConcernRaised,
    ThemeFinding,
)

from qaf_audits.domain.audits import Audit, ValidSubmission


def concern_id_for(audit_id: str) -> str:
    """One concern per audit, so its id follows from the audit's (stable across retries)."""
    return "PC-" + hashlib.sha256(audit_id.encode()).hexdigest()[:20]


def audit_completed(audit: Audit, template_version: int, submission: ValidSubmission) -> AuditCompleted:
    return AuditCompleted(
        audit_id=audit.audit_id,
        case_id=audit.case_id,
        service=audit.service,
        team_id=audit.team_id,
        auditor_id=audit.auditor_id,
        month=audit.month,
        template_id=audit.template_id,
        template_version=template_version,
        grades=[DomainGrade(domain=d.domain, grade=d.grade) for d in submission.domains],
        overall_grade=submission.overall_grade,
        indicator_answers=[
            IndicatorAnswer(question_id=question_id, theme=theme, answer=answer)
            for question_id, theme, answer in submission.answers
        ],
        themes=[ThemeFinding(theme=theme, severity=severity) for theme, severity in submission.themes],
        social_worker_participated=submission.social_worker_participated,
        parents_spoken_to=submission.parents_spoken_to,
        child_spoken_to=submission.child_spoken_to,
        completed_at=submission.completed_at,
    )


def practice_concern(audit: Audit, submission: ValidSubmission) -> PracticeConcernRaised | None:
    reason = submission.concern_reason
    if reason is None:
        return None
    return PracticeConcernRaised(
        concern_id=concern_id_for(audit.audit_id),
        audit_id=audit.audit_id,
        case_id=audit.case_id,
        service=audit.service,
        team_id=audit.team_id,
        team_manager_id=audit.concern_manager_id,
        reason=reason,
        domains=submission.inadequate_domains,
        raised_at=submission.completed_at,
    )


def audit_overdue(audit: Audit) -> AuditOverdue:
    return AuditOverdue(
        audit_id=audit.audit_id,
        case_id=audit.case_id,
        service=audit.service,
        auditor_id=audit.auditor_id,
        due_on=audit.due_on,
    )


def overdue_occurred_at(audit: Audit) -> datetime:
    """Event time of an overdue audit: the start of the day after it fell due, whenever it is noticed."""
    return datetime.combine(audit.due_on + timedelta(days=1), time.min, tzinfo=UTC)
