"""Completed audits, the quality-control path and overdue work. No free text ever travels here."""

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, Field

from qaf_shared.envelope import Month, OpaqueId, Payload
from qaf_shared.topics import AUDITS
from qaf_shared.vocabulary import Answer, ConcernReason, Grade, Service, Severity, Theme


class DomainGrade(Payload):
    domain: OpaqueId
    grade: Grade


class IndicatorAnswer(Payload):
    question_id: OpaqueId
    theme: Theme
    answer: Answer


class ThemeFinding(Payload):
    theme: Theme
    severity: Severity


class AuditCompleted(Payload, event_type="audit-completed", topic=AUDITS, key_field="audit_id"):
    audit_id: OpaqueId
    case_id: OpaqueId
    service: Service
    team_id: OpaqueId
    auditor_id: OpaqueId
    month: Month | None = Field(default=None, description="The allocation month, if allocated.")
    template_id: OpaqueId
    template_version: Annotated[int, Field(ge=1)]
    grades: Annotated[list[DomainGrade], Field(min_length=1)]
    overall_grade: Grade
    indicator_answers: list[IndicatorAnswer] = []
    themes: list[ThemeFinding] = []
    social_worker_participated: bool
    parents_spoken_to: bool
    child_spoken_to: bool
    completed_at: AwareDatetime


class PracticeConcernRaised(
    Payload, event_type="practice-concern-raised", topic=AUDITS, key_field="audit_id"
):
    """Quality control: poor practice routed to the responsible manager, apart from learning."""

    concern_id: OpaqueId
    audit_id: OpaqueId
    case_id: OpaqueId
    service: Service
    team_id: OpaqueId
    team_manager_id: OpaqueId
    reason: ConcernReason
    domains: list[OpaqueId] = []
    raised_at: AwareDatetime


class AuditOverdue(Payload, event_type="audit-overdue", topic=AUDITS, key_field="audit_id"):
    audit_id: OpaqueId
    case_id: OpaqueId
    service: Service
    auditor_id: OpaqueId
    due_on: date
