"""What the allocation HTTP API returns: one pydantic model per answer, built from domain objects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from qaf_shared.vocabulary import Service

from qaf_allocation.domain.model import (
    Absence,
    Auditor,
    DrawnMonth,
    DrawRecord,
    Population,
    RecordedMove,
    Shortfall,
    StoredAllocation,
)
from qaf_allocation.domain.reallocation import Move, Stuck
from qaf_allocation.domain.target import YearlyTarget
from qaf_allocation.usecases import RosterOutcome

# Recorded moments read as Python writes them (`2013-10-01T09:00:00+00:00`), as they always have.
Timestamp = Annotated[datetime, PlainSerializer(lambda moment: moment.isoformat(), return_type=str)]


class AbsenceView(BaseModel):
    starts_on: date
    ends_on: date

    @classmethod
    def of(cls, absence: Absence) -> AbsenceView:
        return cls(starts_on=absence.starts_on, ends_on=absence.ends_on)


class AuditorView(BaseModel):
    auditor_id: str
    service: Service
    manages_teams: list[str] = Field(description="Teams this manager manages, sorted.")
    is_lead: bool
    capacity: int = Field(description="Audits a month they can take.")
    absences: list[AbsenceView]
    active: bool

    @classmethod
    def of(cls, auditor: Auditor) -> AuditorView:
        return cls(auditor_id=auditor.auditor_id, service=auditor.service, manages_teams=sorted(auditor.manages_teams),
                   is_lead=auditor.is_lead, capacity=auditor.capacity,
                   absences=[AbsenceView.of(a) for a in auditor.absences], active=auditor.active)


class RosterView(BaseModel):
    auditors: list[AuditorView]

    @classmethod
    def of(cls, auditors: list[Auditor]) -> RosterView:
        return cls(auditors=[AuditorView.of(a) for a in auditors])


class MoveView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    audit_id: str
    from_: str = Field(alias="from", description="The auditor who held it.")
    to: str = Field(description="The auditor who holds it now.")
    explanation: str

    @classmethod
    def of(cls, move: Move) -> MoveView:
        return cls(audit_id=move.audit_id, from_=move.previous_auditor_id, to=move.auditor_id,
                   explanation=move.explanation)


class StuckView(BaseModel):
    audit_id: str
    reason: str = Field(description="Why nobody could take it: it stays with its auditor.")

    @classmethod
    def of(cls, stuck: Stuck) -> StuckView:
        return cls(audit_id=stuck.audit_id, reason=stuck.reason)


class RosterChangeView(BaseModel):
    auditor: AuditorView
    created: bool
    reallocated: list[MoveView]
    not_reallocated: list[StuckView]

    @classmethod
    def of(cls, outcome: RosterOutcome) -> RosterChangeView:
        return cls(auditor=AuditorView.of(outcome.auditor), created=outcome.created,
                   reallocated=[MoveView.of(m) for m in outcome.moves],
                   not_reallocated=[StuckView.of(s) for s in outcome.stuck])


class ReallocationView(BaseModel):
    previous_auditor_id: str
    auditor_id: str
    effective_on: date
    explanation: str

    @classmethod
    def of(cls, move: RecordedMove) -> ReallocationView:
        return cls(previous_auditor_id=move.previous_auditor_id, auditor_id=move.auditor_id,
                   effective_on=move.effective_on, explanation=move.explanation)


class AllocationView(BaseModel):
    audit_id: str
    case_id: str
    service: Service
    team_id: str
    team_manager_id: str
    auditor_id: str = Field(description="Who holds it now.")
    original_auditor_id: str = Field(description="Who it was drawn for.")
    lead_auditor_id: str
    due_on: date
    draw_position: int
    stratum_position: int
    explanation: str = Field(description="Why this case, and why this auditor.")
    withdrawn: bool = Field(description="A redraw superseded it.")
    completed: bool
    reallocations: list[ReallocationView]

    @classmethod
    def of(cls, a: StoredAllocation) -> AllocationView:
        return cls(audit_id=a.audit_id, case_id=a.case_id, service=a.service, team_id=a.team_id,
                   team_manager_id=a.team_manager_id, auditor_id=a.auditor_id,
                   original_auditor_id=a.original_auditor_id, lead_auditor_id=a.lead_auditor_id, due_on=a.due_on,
                   draw_position=a.draw_position, stratum_position=a.stratum_position, explanation=a.explanation,
                   withdrawn=a.withdrawn, completed=a.completed,
                   reallocations=[ReallocationView.of(m) for m in a.reallocations])


class ShortfallView(BaseModel):
    code: str
    message: str
    service: Service | None
    case_id: str | None
    count: int

    @classmethod
    def of(cls, shortfall: Shortfall) -> ShortfallView:
        return cls(code=shortfall.code, message=shortfall.message, service=shortfall.service,
                   case_id=shortfall.case_id, count=shortfall.count)


class DrawHistoryView(BaseModel):
    draw_id: str
    seed: int
    as_of: date
    requested_by: str
    trigger: str
    created_at: Timestamp
    superseded_at: Timestamp | None
    superseded_by: str | None

    @classmethod
    def of(cls, record: DrawRecord) -> DrawHistoryView:
        return cls(draw_id=record.draw_id, seed=record.seed, as_of=record.as_of, requested_by=record.requested_by,
                   trigger=record.trigger, created_at=record.created_at, superseded_at=record.superseded_at,
                   superseded_by=record.superseded_by)


class MonthView(BaseModel):
    """The month's draw in force: what it was asked, what it found, whom it allocated, and its history."""

    draw_id: str
    month: str
    as_of: date
    seed: int
    redraw: bool
    requested_by: str
    trigger: str = Field(description="api, cli, command or scheduler")
    settings: dict[str, int]
    requested: int
    allocated: int
    quotas: dict[str, int] = Field(description="Cases asked of each service.")
    open_by_service: dict[str, int]
    shortfall: list[ShortfallView]
    stats: dict[str, int]
    created_at: Timestamp
    superseded_at: Timestamp | None
    superseded_by: str | None
    allocations: list[AllocationView]
    history: list[DrawHistoryView]

    @classmethod
    def of(cls, month: DrawnMonth) -> MonthView:
        draw, record = month.draw, month.draw.record
        return cls(draw_id=record.draw_id, month=record.month, as_of=record.as_of, seed=record.seed,
                   redraw=record.redraw, requested_by=record.requested_by, trigger=record.trigger,
                   settings=draw.settings, requested=draw.requested, allocated=len(draw.allocations),
                   quotas=draw.quotas, open_by_service=draw.open_by_service,
                   shortfall=[ShortfallView.of(s) for s in draw.shortfall], stats=draw.stats,
                   created_at=record.created_at, superseded_at=record.superseded_at,
                   superseded_by=record.superseded_by, allocations=[AllocationView.of(a) for a in draw.allocations],
                   history=[DrawHistoryView.of(h) for h in month.history])


class RunView(MonthView):
    created: bool = Field(description="False when the month had been drawn already (that draw is returned).")

    @classmethod
    def of_run(cls, month: DrawnMonth, created: bool) -> RunView:
        return cls(**dict(MonthView.of(month)), created=created)


class TargetRange(BaseModel):
    min: int
    max: int


class ServiceTargetView(BaseModel):
    service: Service
    label: str
    allocated: int
    completed: int


class TargetView(BaseModel):
    year: str = Field(description="2013-14, or 2013 for a calendar year.")
    first_month: str
    last_month: str
    target: TargetRange
    months_drawn: int
    allocated: int
    completed: int
    remaining_to_min: int
    status: str = Field(description="below, within or above the target")
    by_service: list[ServiceTargetView]

    @classmethod
    def of(cls, t: YearlyTarget) -> TargetView:
        return cls(year=t.year, first_month=t.first_month, last_month=t.last_month,
                   target=TargetRange(min=t.target_min, max=t.target_max), months_drawn=t.months_drawn,
                   allocated=t.allocated_total, completed=t.completed_total, remaining_to_min=t.remaining_to_min,
                   status=t.status,
                   by_service=[ServiceTargetView(service=s, label=s.label, allocated=t.allocated.get(s, 0),
                                                 completed=t.completed.get(s, 0)) for s in Service])


class PopulationView(BaseModel):
    as_of: date
    window_start: date
    cases_known: int
    open: int = Field(description="Cases open at some point in the window.")
    open_by_service: dict[str, int]
    due_on: date = Field(description="When audits drawn as of this date are due.")

    @classmethod
    def of(cls, p: Population) -> PopulationView:
        return cls(as_of=p.as_of, window_start=p.window_start, cases_known=p.cases_known,
                   open=sum(p.open_by_service.values()),
                   open_by_service={s.value: n for s, n in p.open_by_service.items()}, due_on=p.due_on)
