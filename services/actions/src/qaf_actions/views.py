"""What the HTTP API of the actions service returns: one pydantic model per response, built here from
the domain's objects and the repository's rows, so the OpenAPI document says what comes back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, PlainSerializer

from qaf_shared.vocabulary import AreaStatus, DriftKind, MilestoneStatus

from qaf_actions.domain.drift import Evaluation
from qaf_actions.domain.plan import ActionPlan

# a moment as Python writes it (2013-10-05T09:00:00+00:00), as the API always has
Moment = Annotated[datetime, PlainSerializer(lambda moment: moment.isoformat(), return_type=str)]


class PlanView(BaseModel):
    version: int
    plan: ActionPlan


class PlanVersionEntry(BaseModel):
    version: int
    source: str
    changed_by: str
    summary: str
    changed_at: Moment


class PlanVersionCreated(BaseModel):
    version: int


class MilestoneAccepted(BaseModel):
    event_id: UUID
    status: MilestoneStatus
    updated_on: date


class MilestoneEntry(BaseModel):
    event_id: UUID
    area_id: str
    action_id: str
    status: MilestoneStatus
    updated_by: str
    updated_on: date
    note: str | None
    recorded_at: Moment


class IndicatorStatus(BaseModel):
    indicator_id: str
    status: AreaStatus
    explanation: str
    figures: dict[str, Any]


class ActionStatus(BaseModel):
    action_id: str
    status: AreaStatus
    milestone: MilestoneStatus
    explanation: str


class FindingRef(BaseModel):
    kind: DriftKind
    subject_id: str


class AreaStatusView(BaseModel):
    area_id: str
    status: AreaStatus
    explanation: str
    indicators: list[IndicatorStatus]
    actions: list[ActionStatus]
    drift: list[FindingRef]


class StatusView(BaseModel):
    as_of: date
    plan_version: int
    counts: dict[str, int]
    areas: list[AreaStatusView]

    @classmethod
    def of(cls, e: Evaluation) -> StatusView:
        return cls(
            as_of=e.as_of,
            plan_version=e.plan_version,
            counts={k.value: v for k, v in e.counts().items()},
            areas=[
                AreaStatusView(
                    area_id=a.area_id, status=a.status, explanation=a.explanation,
                    indicators=[IndicatorStatus(indicator_id=r.indicator_id, status=r.status,
                                                explanation=r.explanation, figures=r.figures) for r in a.indicators],
                    actions=[ActionStatus(action_id=r.action_id, status=r.status, milestone=r.milestone,
                                          explanation=r.explanation) for r in a.actions],
                    drift=[FindingRef(kind=f.kind, subject_id=f.subject_id) for f in a.findings],
                )
                for a in e.areas
            ],
        )


class DriftEventView(BaseModel):
    event_id: UUID
    change: str
    area_id: str
    kind: str
    subject_id: str
    indicator_id: str | None
    status: str
    as_of: date
    explanation: str
    figures: dict[str, Any]
    recorded_at: Moment


class ActiveFinding(BaseModel):
    area_id: str
    kind: str
    subject_id: str


class DriftView(BaseModel):
    events: list[DriftEventView]
    active: list[ActiveFinding]

    @classmethod
    def of(cls, events: list[dict[str, Any]], active: list[tuple[str, str, str]]) -> DriftView:
        return cls(
            events=[DriftEventView(**e) for e in events],
            active=[ActiveFinding(area_id=a, kind=k, subject_id=s) for (a, k, s) in active],
        )


class DigestIssued(BaseModel):
    digest_id: str
    period: str
    issued: bool
    sent: bool
    summary: dict[str, Any]


class DigestEntry(BaseModel):
    digest_id: str
    period: str
    board_date: date
    as_of: date
    issued_at: Moment
    forced: bool
    pdf_sha256: str
    summary: dict[str, Any]
    recipients: list[str]
    sent_at: Moment | None
