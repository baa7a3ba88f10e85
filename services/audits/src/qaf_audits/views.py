"""What the audits HTTP API returns: one pydantic model per answer, built here from domain objects and rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, PlainSerializer

from qaf_audits.domain.moderation import AgreementReport
from qaf_audits.domain.templates import Template
from qaf_audits.usecases import AuditDetail, SubmittedAudit

# Moments read as `datetime.isoformat()` gives them ("+00:00"), as the API has always written them.
Moment = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


# --- Templates ---------------------------------------------------------------------------------


class TemplateSummaryView(BaseModel):
    template_id: str
    version: int
    kind: str
    title: str
    source: str
    loaded_at: Moment


class DomainDefView(BaseModel):
    id: str
    title: str
    mandatory: bool
    themes: list[str]


class QuestionView(BaseModel):
    id: str
    text: str
    theme: str
    mandatory: bool
    domain: str | None


class TemplateView(BaseModel):
    """The template as a client sees it (what an auditor fills in)."""

    id: str
    version: int
    kind: str
    title: str
    description: str
    review_window_months: int
    domains: list[DomainDefView]
    questions: list[QuestionView]

    @classmethod
    def of(cls, template: Template, **more: Any) -> Self:
        return cls(
            id=template.id,
            version=template.version,
            kind=template.kind.value,
            title=template.title,
            description=template.description,
            review_window_months=template.review_window_months,
            domains=[
                DomainDefView(id=d.id, title=d.title, mandatory=d.mandatory, themes=[t.value for t in d.themes])
                for d in template.domains
            ],
            questions=[
                QuestionView(id=q.id, text=q.text, theme=q.theme.value, mandatory=q.mandatory, domain=q.domain)
                for q in template.questions
            ],
            **more,
        )


class LoadedTemplateView(TemplateView):
    created: bool  # False: the latest version already had this definition


# --- Audits ------------------------------------------------------------------------------------


class AuditView(BaseModel):
    audit_id: str
    case_id: str
    service: str
    team_id: str
    auditor_id: str
    lead_auditor_id: str
    team_manager_id: str | None
    month: str | None
    due_on: date
    template_id: str
    template_version: int | None
    allocated_at: Moment
    status: str
    origin: str
    overdue: bool

    @classmethod
    def of(cls, row: dict[str, Any], **more: Any) -> Self:
        """From an audit row: whether it was flagged overdue, not when (that is the event's time)."""
        return cls(**{k: v for k, v in row.items() if k != "overdue_flagged_at"},
                   overdue=row["overdue_flagged_at"] is not None, **more)


class ThemeFindingView(BaseModel):
    theme: str
    severity: str


class CompletedDomainView(BaseModel):
    domain: str
    grade: str
    evidence: str
    themes: list[ThemeFindingView]


class CompletedAnswerView(BaseModel):
    question_id: str
    theme: str
    answer: str


class CompletionView(BaseModel):
    """What was submitted, free text included: shown only to those who may submit the audit."""

    template_id: str
    template_version: int
    auditor_id: str
    submitted_by: str
    submitted_role: str
    completed_at: Moment
    overall_grade: str
    social_worker_participated: bool
    parents_spoken_to: bool
    child_spoken_to: bool
    safeguarding_concern: bool
    summary: str
    domains: list[CompletedDomainView]
    answers: list[CompletedAnswerView]


class AuditDetailView(AuditView):
    template: TemplateView
    completion: CompletionView | None

    @classmethod
    def detail(cls, found: AuditDetail) -> AuditDetailView:
        completion = CompletionView.model_validate(found.completion) if found.completion else None
        return cls.of(found.audit, template=TemplateView.of(found.template), completion=completion)


class SubmissionView(BaseModel):
    audit_id: str
    template_id: str
    template_version: int
    overall_grade: str
    concern_id: str | None
    moderation_sampled: bool

    @classmethod
    def of(cls, submitted: SubmittedAudit) -> SubmissionView:
        return cls(
            audit_id=submitted.audit_id,
            template_id=submitted.template.id,
            template_version=submitted.template.version,
            overall_grade=submitted.submission.overall_grade.value,
            concern_id=submitted.concern.concern_id if submitted.concern else None,
            moderation_sampled=submitted.moderation_sampled,
        )


class ThemedAuditView(BaseModel):
    audit_id: str
    case_id: str
    created: bool  # False: the case was already allocated this audit


class ThemedAllocationView(BaseModel):
    template_id: str
    audits: list[ThemedAuditView]


# --- Practice concerns -------------------------------------------------------------------------


class ConcernView(BaseModel):
    concern_id: str
    audit_id: str
    case_id: str
    service: str
    team_id: str
    team_manager_id: str
    reason: str
    domains: list[str]
    raised_at: Moment
    acknowledged_at: Moment | None
    acknowledged_by: str | None


# --- Overdue -----------------------------------------------------------------------------------


class SweepView(BaseModel):
    as_of: date
    flagged: list[str]


# --- Moderation --------------------------------------------------------------------------------


class ModerationQueueView(BaseModel):
    audit_id: str
    service: str
    team_id: str
    month: str | None
    template_id: str
    template_version: int
    sampled_at: Moment
    domains: list[str]


class ModerationView(BaseModel):
    audit_id: str
    domains: int
    agreed: int


class AgreementView(BaseModel):
    compared: int
    agreed: int
    agreement_rate: float | None
    within_one_grade: int
    within_one_rate: float | None
    moderator_harsher: int
    moderator_kinder: int


class AgreementReportView(BaseModel):
    share: float
    moderated_audits: int
    overall: AgreementView
    by_domain: dict[str, AgreementView]
    by_auditor: dict[str, AgreementView]

    @classmethod
    def of(cls, report: AgreementReport, *, share: float) -> AgreementReportView:
        return cls.model_validate({"share": share, **report.as_dict()})
