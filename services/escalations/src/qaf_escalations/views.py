"""What the HTTP API returns: one pydantic model per response, built here from the domain's objects,
so the OpenAPI documents describe every body the front end receives."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStage,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Service,
    Theme,
)

from qaf_escalations.domain.cases import Note
from qaf_escalations.domain.complaints import Complaint, ComplaintStatus, ExtensionReason
from qaf_escalations.domain.escalations import Escalation, EscalationStatus
from qaf_escalations.domain.timeliness import EscalationTimelinessRow, TimelinessRow
from qaf_escalations.usecases import OverdueReported


def _absent_when_none(value: object) -> bool:
    return value is None


class NoteView(BaseModel):
    action: str
    on_date: date
    author: str
    note: str


def _notes_field() -> Any:
    """The desk's own roles see the notes; for the reporting role the key is left out, not null."""
    return Field(default=None, exclude_if=_absent_when_none, description="Left out for the reporting role.")


def _notes(notes: list[Note] | None) -> list[NoteView] | None:
    if notes is None:
        return None
    return [NoteView(action=n.action, on_date=n.on_date, author=n.author, note=n.note) for n in notes]


# --- escalations ------------------------------------------------------------------------------


class EscalationStageView(BaseModel):
    stage: EscalationStage
    started_on: date
    due_on: date
    addressed_to_manager_id: str
    ended_on: date | None
    ended_by: str | None = Field(description="progressed, resolved or withdrawn")
    overdue: bool


class EscalationView(BaseModel):
    escalation_id: str
    case_id: str
    service: Service
    raised_by_role: EscalationRole
    raised_by_id: str
    reason: EscalationReason
    theme: Theme
    status: EscalationStatus
    stage: EscalationStage
    addressed_to_team_id: str
    addressed_to_manager_id: str
    raised_on: date
    due_on: date
    outcome: EscalationOutcome | None
    closed_on: date | None
    within_timescale: bool | None
    overdue_stages: list[EscalationStage]
    stages: list[EscalationStageView]
    notes: list[NoteView] | None = _notes_field()


class EscalationList(BaseModel):
    escalations: list[EscalationView]
    count: int


class EscalationTimelinessRowView(BaseModel):
    stage: EscalationStage
    service: Service
    started: int
    answered: int
    answered_within_timescale: int
    answered_late: int
    reported_overdue: int
    open: int
    open_overdue: int
    percent_within_timescale: float | None


class EscalationTimelinessReport(BaseModel):
    as_of: date
    started_from: date | None
    started_to: date | None
    rows: list[EscalationTimelinessRowView]


class OverdueView(BaseModel):
    escalation_id: str
    stage: EscalationStage
    due_on: date


class SweepReport(BaseModel):
    as_of: date
    overdue: list[OverdueView]


def escalation_view(escalation: Escalation, notes: list[Note] | None = None) -> EscalationView:
    return EscalationView(
        escalation_id=escalation.escalation_id,
        case_id=escalation.case_id,
        service=escalation.service,
        raised_by_role=escalation.raised_by_role,
        raised_by_id=escalation.raised_by_id,
        reason=escalation.reason,
        theme=escalation.theme,
        status=escalation.status,
        stage=escalation.stage,
        addressed_to_team_id=escalation.addressed_to_team_id,
        addressed_to_manager_id=escalation.addressed_to_manager_id,
        raised_on=escalation.raised_on,
        due_on=escalation.current.due_on,
        outcome=escalation.outcome,
        closed_on=escalation.closed_on,
        within_timescale=escalation.within_timescale,
        overdue_stages=sorted(escalation.overdue_stages, key=list(EscalationStage).index),
        stages=[
            EscalationStageView(
                stage=s.stage,
                started_on=s.started_on,
                due_on=s.due_on,
                addressed_to_manager_id=s.addressed_to_manager_id,
                ended_on=s.ended_on,
                ended_by=s.ended_by,
                overdue=s.stage in escalation.overdue_stages,
            )
            for s in escalation.steps
        ],
        notes=_notes(notes),
    )


def escalation_list(escalations: list[Escalation]) -> EscalationList:
    return EscalationList(escalations=[escalation_view(e) for e in escalations], count=len(escalations))


def escalation_timeliness_report(
    as_of: date, started_from: date | None, started_to: date | None, rows: list[EscalationTimelinessRow]
) -> EscalationTimelinessReport:
    return EscalationTimelinessReport(
        as_of=as_of, started_from=started_from, started_to=started_to,
        rows=[EscalationTimelinessRowView.model_validate(row.as_dict()) for row in rows],
    )


def sweep_report(as_of: date, reported: list[OverdueReported]) -> SweepReport:
    return SweepReport(
        as_of=as_of,
        overdue=[OverdueView(escalation_id=r.escalation_id, stage=r.stage, due_on=r.due_on) for r in reported],
    )


# --- complaints -------------------------------------------------------------------------------


class ExtensionView(BaseModel):
    extended_on: date
    from_working_days: int
    to_working_days: int
    reason: ExtensionReason


class ComplaintStageView(BaseModel):
    stage: ComplaintStage
    received_on: date
    working_days: int
    due_on: date
    extensions: list[ExtensionView]
    resolved_on: date | None
    outcome: ComplaintOutcome | None
    within_timescale: bool | None
    escalated_on: date | None


class ComplaintView(BaseModel):
    complaint_id: str
    case_id: str | None
    service: Service
    category: ComplaintCategory
    theme: Theme
    status: ComplaintStatus
    stage: ComplaintStage
    due_on: date
    stages: list[ComplaintStageView]
    notes: list[NoteView] | None = _notes_field()


class ComplaintList(BaseModel):
    complaints: list[ComplaintView]
    count: int


class ComplaintTimelinessRowView(BaseModel):
    stage: ComplaintStage
    service: Service
    received: int
    answered: int
    answered_within_timescale: int
    answered_late: int
    withdrawn: int
    extended: int
    escalated_unanswered: int
    open: int
    open_overdue: int
    percent_within_timescale: float | None


class ComplaintTimelinessReport(BaseModel):
    as_of: date
    received_from: date | None
    received_to: date | None
    rows: list[ComplaintTimelinessRowView]


def complaint_view(complaint: Complaint, notes: list[Note] | None = None) -> ComplaintView:
    return ComplaintView(
        complaint_id=complaint.complaint_id,
        case_id=complaint.case_id,
        service=complaint.service,
        category=complaint.category,
        theme=complaint.theme,
        status=complaint.status,
        stage=complaint.current.stage,
        due_on=complaint.current.due_on,
        stages=[
            ComplaintStageView(
                stage=r.stage,
                received_on=r.received_on,
                working_days=r.working_days,
                due_on=r.due_on,
                extensions=[
                    ExtensionView(extended_on=x.extended_on, from_working_days=x.from_working_days,
                                  to_working_days=x.to_working_days, reason=x.reason)
                    for x in r.extensions
                ],
                resolved_on=r.resolved_on,
                outcome=r.outcome,
                within_timescale=r.within_timescale,
                escalated_on=r.escalated_on,
            )
            for r in complaint.stages
        ],
        notes=_notes(notes),
    )


def complaint_list(complaints: list[Complaint]) -> ComplaintList:
    return ComplaintList(complaints=[complaint_view(c) for c in complaints], count=len(complaints))


def complaint_timeliness_report(
    as_of: date, received_from: date | None, received_to: date | None, rows: list[TimelinessRow]
) -> ComplaintTimelinessReport:
    return ComplaintTimelinessReport(
        as_of=as_of, received_from=received_from, received_to=received_to,
        rows=[ComplaintTimelinessRowView.model_validate(row.as_dict()) for row in rows],
    )
