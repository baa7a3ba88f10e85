"""One valid example of every contract: used in the AsyncAPI document and by contract tests."""

from datetime import UTC, date, datetime

from qaf_shared.contracts.actions import ActionMilestoneUpdated, BoardDigestIssued, DriftCleared, DriftFlagged
from qaf_shared.contracts.allocation import AllocationRunRequested, AuditAllocated, AuditReallocated
from qaf_shared.contracts.audits import (
    AuditCompleted,
    AuditOverdue,
    DomainGrade,
    IndicatorAnswer,
    PracticeConcernRaised,
    ThemeFinding,
)
from qaf_shared.contracts.cases import CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.contracts.escalations import (
    ComplaintLogged,
    ComplaintResolved,
    EscalationOverdue,
    EscalationProgressed,
    EscalationRaised,
    EscalationResolved,
)
from qaf_shared.contracts.reporting import ThemeUpdated
from qaf_shared.envelope import Payload
from qaf_shared.vocabulary import (
    Answer,
    AreaStatus,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStage,
    ConcernReason,
    DriftKind,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Grade,
    LegalStatus,
    MilestoneStatus,
    Service,
    Severity,
    Theme,
)

_AT = datetime(2013, 9, 30, 14, 0, tzinfo=UTC)

EXAMPLES: dict[str, Payload] = {
    e.EVENT_TYPE: e
    for e in [
        CaseOpened(
            case_id="C-100234", service=Service.SAFEGUARDING_AND_SUPPORT, team_id="T-SS-2", worker_id="W-5512",
            team_manager_id="M-0412", legal_status=LegalStatus.CHILD_PROTECTION, opened_on=date(2013, 4, 2),
        ),
        CaseUpdated(
            case_id="C-100234", service=Service.CHILDREN_IN_CARE, team_id="T-CIC-1", worker_id="W-6120",
            team_manager_id="M-0520", legal_status=LegalStatus.LOOKED_AFTER,
        ),
        CaseClosed(case_id="C-100234", closed_on=date(2014, 3, 28)),
        AllocationRunRequested(month="2013-10", as_of=date(2013, 10, 1), requested_by="U-QA-01"),
        AuditAllocated(
            audit_id="A-2013-10-017", case_id="C-100234", service=Service.SAFEGUARDING_AND_SUPPORT,
            team_id="T-SS-2", auditor_id="M-0333", lead_auditor_id="M-0101", month="2013-10",
            due_on=date(2013, 10, 31), draw_id="D-2013-10", team_manager_id="M-0412",
            explanation="stratum safeguarding-and-support (12 of 50), draw position 17; auditor M-0333 has the "
            "fewest allocations this month and manages no team holding the case",
        ),
        AuditReallocated(
            audit_id="A-2013-10-017", case_id="C-100234", service=Service.SAFEGUARDING_AND_SUPPORT,
            previous_auditor_id="M-0333", auditor_id="M-0340", lead_auditor_id="M-0101",
            due_on=date(2013, 10, 31), explanation="M-0333 absent from 2013-10-14 to 2013-11-08",
        ),
        AuditCompleted(
            audit_id="A-2013-10-017", case_id="C-100234", service=Service.SAFEGUARDING_AND_SUPPORT,
            team_id="T-SS-2", auditor_id="M-0340", month="2013-10", template_id="light-touch", template_version=1,
            grades=[DomainGrade(domain="assessment", grade=Grade.GOOD),
                    DomainGrade(domain="supervision", grade=Grade.REQUIRES_IMPROVEMENT)],
            overall_grade=Grade.REQUIRES_IMPROVEMENT,
            indicator_answers=[IndicatorAnswer(question_id="chronology-up-to-date", theme=Theme.CHRONOLOGIES,
                                               answer=Answer.NO)],
            themes=[ThemeFinding(theme=Theme.SUPERVISION, severity=Severity.SIGNIFICANT)],
            social_worker_participated=True, parents_spoken_to=True, child_spoken_to=False, completed_at=_AT,
        ),
        PracticeConcernRaised(
            concern_id="PC-0091", audit_id="A-2013-10-017", case_id="C-100234",
            service=Service.SAFEGUARDING_AND_SUPPORT, team_id="T-SS-2", team_manager_id="M-0412",
            reason=ConcernReason.INADEQUATE_GRADE, domains=["planning"], raised_at=_AT,
        ),
        AuditOverdue(
            audit_id="A-2013-10-018", case_id="C-100871", service=Service.FIRST_RESPONSE, auditor_id="M-0350",
            due_on=date(2013, 10, 31),
        ),
        EscalationRaised(
            escalation_id="E-0457", case_id="C-100234", service=Service.SAFEGUARDING_AND_SUPPORT,
            raised_by_role=EscalationRole.CPA, raised_by_id="CPA-07", reason=EscalationReason.DRIFT_AND_DELAY,
            theme=Theme.TIMELINESS_DRIFT, stage=EscalationStage.INFORMAL, addressed_to_team_id="T-SS-2",
            addressed_to_manager_id="M-0412", raised_on=date(2013, 10, 3), due_on=date(2013, 10, 10),
        ),
        EscalationProgressed(
            escalation_id="E-0457", service=Service.SAFEGUARDING_AND_SUPPORT,
            reason=EscalationReason.DRIFT_AND_DELAY, theme=Theme.TIMELINESS_DRIFT,
            from_stage=EscalationStage.INFORMAL, to_stage=EscalationStage.TEAM_MANAGER,
            addressed_to_manager_id="M-0412", progressed_on=date(2013, 10, 11), due_on=date(2013, 10, 18),
        ),
        EscalationResolved(
            escalation_id="E-0457", service=Service.SAFEGUARDING_AND_SUPPORT,
            reason=EscalationReason.DRIFT_AND_DELAY, theme=Theme.TIMELINESS_DRIFT,
            stage=EscalationStage.TEAM_MANAGER, outcome=EscalationOutcome.PLAN_CHANGED,
            resolved_on=date(2013, 10, 16), within_timescale=True,
        ),
        EscalationOverdue(
            escalation_id="E-0458", service=Service.CHILDREN_IN_CARE, reason=EscalationReason.VISITS_NOT_DONE,
            theme=Theme.VISITS, stage=EscalationStage.INFORMAL, due_on=date(2013, 10, 10),
        ),
        ComplaintLogged(
            complaint_id="CP-0210", case_id="C-100234", service=Service.SAFEGUARDING_AND_SUPPORT,
            category=ComplaintCategory.COMMUNICATION, theme=Theme.RESPONSIVENESS_TO_FAMILIES,
            stage=ComplaintStage.STAGE_1, received_on=date(2013, 10, 2), due_on=date(2013, 10, 16),
        ),
        ComplaintResolved(
            complaint_id="CP-0210", service=Service.SAFEGUARDING_AND_SUPPORT,
            category=ComplaintCategory.COMMUNICATION, theme=Theme.RESPONSIVENESS_TO_FAMILIES,
            stage=ComplaintStage.STAGE_1, outcome=ComplaintOutcome.PARTLY_UPHELD, resolved_on=date(2013, 10, 14),
            within_timescale=True,
        ),
        ThemeUpdated(
            theme=Theme.SUPERVISION, measure="audit-theme", service="all", window_months=3, period_end="2013-10",
            count=14, denominator=150, denominator_kind="audits", rate=9.33, previous_count=11, previous_rate=7.33,
            delta=2.0,
        ),
        ActionMilestoneUpdated(
            area_id="supervision", action_id="supervision.3", status=MilestoneStatus.IN_PROGRESS,
            updated_by="M-0101", updated_on=date(2013, 10, 4),
        ),
        DriftFlagged(
            area_id="supervision", indicator_id="supervision.regular-reflective", kind=DriftKind.TREND,
            status=AreaStatus.DRIFTING, as_of=date(2013, 10, 31),
            explanation="Supervision regular and reflective: 41% yes over the last 3 months (95% interval 33-49%), "
            "below the 2012-13 baseline of 55% and moving away from the 75% target.",
            figures={"rate": 41.0, "baseline": 55.0, "target": 75.0, "sample": 150},
        ),
        DriftCleared(
            area_id="chronologies", indicator_id="chronologies.up-to-date", kind=DriftKind.TREND,
            status=AreaStatus.ON_TRACK, as_of=date(2013, 10, 31),
            explanation="Up-to-date chronologies: 68% yes over 3 months, now above the 60% tolerance line.",
        ),
        BoardDigestIssued(
            digest_id="BD-2013-11", period="2013-10", board_date=date(2013, 11, 14), as_of=date(2013, 11, 7),
            issued_at=_AT, areas_by_status={AreaStatus.ON_TRACK: 6, AreaStatus.AT_RISK: 2, AreaStatus.DRIFTING: 2,
                                            AreaStatus.NO_EVIDENCE: 1},
            flags_raised=3, flags_cleared=1, overdue_audits=4, overdue_escalations=2, outstanding_concerns=5,
            pdf_sha256="0" * 64,
        ),
    ]
}
