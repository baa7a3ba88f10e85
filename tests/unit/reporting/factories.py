"""Event builders for reporting's tests: valid contracts with only what a test cares about to say."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from qaf_shared.contracts import (
    AuditAllocated,
    AuditCompleted,
    AuditOverdue,
    CaseClosed,
    CaseOpened,
    CaseUpdated,
    ComplaintLogged,
    ComplaintResolved,
    DomainGrade,
    EscalationOverdue,
    EscalationRaised,
    EscalationResolved,
    IndicatorAnswer,
    PracticeConcernRaised,
    ThemeFinding,
)
from qaf_shared.envelope import Envelope, Payload, new_envelope
from qaf_shared.vocabulary import (
    Answer,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStage,
    ConcernReason,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Grade,
    LegalStatus,
    Service,
    Severity,
    Theme,
)

FR, SS, CIC = Service.FIRST_RESPONSE, Service.SAFEGUARDING_AND_SUPPORT, Service.CHILDREN_IN_CARE


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def envelope(payload: Payload, day: date, source: str = "test") -> Envelope[Any]:
    return new_envelope(payload, source=source, occurred_at=at(day))


def audit_completed(
    audit_id: str,
    service: Service,
    day: date,
    *,
    themes: list[tuple[Theme, Severity]] = (),  # type: ignore[assignment]
    answers: list[tuple[str, Theme, Answer]] = (),  # type: ignore[assignment]
    grades: dict[str, Grade] | None = None,
    overall: Grade = Grade.GOOD,
    month: str | None = None,
    child_spoken_to: bool = True,
) -> AuditCompleted:
    grades = grades or {"assessment": Grade.GOOD}
    return AuditCompleted(
        audit_id=audit_id, case_id=f"C-{audit_id}", service=service, team_id="T-1", auditor_id="M-1", month=month,
        template_id="light-touch", template_version=1,
        grades=[DomainGrade(domain=d, grade=g) for d, g in grades.items()], overall_grade=overall,
        indicator_answers=[IndicatorAnswer(question_id=q, theme=t, answer=a) for q, t, a in answers],
        themes=[ThemeFinding(theme=t, severity=s) for t, s in themes],
        social_worker_participated=True, parents_spoken_to=True, child_spoken_to=child_spoken_to,
        completed_at=at(day),
    )


def allocated(audit_id: str, service: Service, month: str) -> AuditAllocated:
    year, mon = (int(x) for x in month.split("-"))
    return AuditAllocated(
        audit_id=audit_id, case_id=f"C-{audit_id}", service=service, team_id="T-1", auditor_id="M-1",
        lead_auditor_id="M-0", month=month, due_on=date(year, mon, 28), draw_id=f"D-{month}",
        explanation="test draw",
    )


def overdue(audit_id: str, service: Service, due: date) -> AuditOverdue:
    return AuditOverdue(audit_id=audit_id, case_id=f"C-{audit_id}", service=service, auditor_id="M-1", due_on=due)


def concern(concern_id: str, audit_id: str, service: Service, day: date, domains: list[str],
            reason: ConcernReason = ConcernReason.INADEQUATE_GRADE) -> PracticeConcernRaised:
    return PracticeConcernRaised(
        concern_id=concern_id, audit_id=audit_id, case_id=f"C-{audit_id}", service=service, team_id="T-1",
        team_manager_id="M-2", reason=reason, domains=domains, raised_at=at(day),
    )


def escalation(escalation_id: str, service: Service, day: date, theme: Theme = Theme.TIMELINESS_DRIFT,
               reason: EscalationReason = EscalationReason.DRIFT_AND_DELAY) -> EscalationRaised:
    return EscalationRaised(
        escalation_id=escalation_id, case_id="C-1", service=service, raised_by_role=EscalationRole.CPA,
        raised_by_id="CPA-1", reason=reason, theme=theme, stage=EscalationStage.INFORMAL,
        addressed_to_team_id="T-1", addressed_to_manager_id="M-2", raised_on=day, due_on=day,
    )


def escalation_resolved(escalation_id: str, service: Service, day: date, in_time: bool,
                        theme: Theme = Theme.TIMELINESS_DRIFT,
                        reason: EscalationReason = EscalationReason.DRIFT_AND_DELAY) -> EscalationResolved:
    return EscalationResolved(
        escalation_id=escalation_id, service=service, reason=reason, theme=theme, stage=EscalationStage.INFORMAL,
        outcome=EscalationOutcome.RESOLVED, resolved_on=day, within_timescale=in_time,
    )


def escalation_overdue(escalation_id: str, service: Service, due: date) -> EscalationOverdue:
    return EscalationOverdue(
        escalation_id=escalation_id, service=service, reason=EscalationReason.DRIFT_AND_DELAY,
        theme=Theme.TIMELINESS_DRIFT, stage=EscalationStage.INFORMAL, due_on=due,
    )


def complaint(complaint_id: str, service: Service, day: date, stage: ComplaintStage = ComplaintStage.STAGE_1,
              category: ComplaintCategory = ComplaintCategory.COMMUNICATION,
              theme: Theme = Theme.RESPONSIVENESS_TO_FAMILIES) -> ComplaintLogged:
    return ComplaintLogged(
        complaint_id=complaint_id, service=service, category=category, theme=theme, stage=stage,
        received_on=day, due_on=day,
    )


def complaint_resolved(complaint_id: str, service: Service, day: date, in_time: bool,
                       category: ComplaintCategory = ComplaintCategory.COMMUNICATION,
                       theme: Theme = Theme.RESPONSIVENESS_TO_FAMILIES) -> ComplaintResolved:
    return ComplaintResolved(
        complaint_id=complaint_id, service=service, category=category, theme=theme, stage=ComplaintStage.STAGE_1,
        outcome=ComplaintOutcome.UPHELD, resolved_on=day, within_timescale=in_time,
    )


def case_opened(case_id: str, service: Service, day: date) -> CaseOpened:
    return CaseOpened(
        case_id=case_id, service=service, team_id="T-1", worker_id="W-1", team_manager_id="M-2",
        legal_status=LegalStatus.CHILD_IN_NEED, opened_on=day,
    )


def case_updated(case_id: str, service: Service) -> CaseUpdated:
    return CaseUpdated(case_id=case_id, service=service, team_id="T-2", worker_id="W-2", team_manager_id="M-3",
                       legal_status=LegalStatus.CHILD_IN_NEED)


def case_closed(case_id: str, day: date) -> CaseClosed:
    return CaseClosed(case_id=case_id, closed_on=day)
