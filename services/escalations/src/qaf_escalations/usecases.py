"""Use cases: each opens a unit of work, applies the domain's rules to the stored aggregate, saves it
and emits the events it caused (written to the outbox at commit), or raises a refusal and changes
nothing. The HTTP router, the consumer's handlers, the CLI and the background sweep call these; the
rules themselves live in domain/.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

import structlog

from qaf_shared.calendar import ENGLAND_AND_WALES, WorkingCalendar
from qaf_shared.clock import Clock, FixedClock, WallClock
from qaf_shared.contracts import CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.unit_of_work import UnitOfWork
from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Service,
)

from qaf_escalations.adapters.repository import Repository
from qaf_escalations.domain.cases import Note
from qaf_escalations.domain.complaints import Complaint, ComplaintTimescales, ExtensionReason
from qaf_escalations.domain.errors import (
    AlreadyExists,
    EventFromTheFuture,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from qaf_escalations.domain.escalations import Escalation, EscalationStatus, EscalationTimescales
from qaf_escalations.domain.events import Emitted, not_in_future
from qaf_escalations.domain.permissions import Actor, check_may_act, raiser, sees_notes
from qaf_escalations.domain.timeliness import (
    EscalationTimelinessRow,
    TimelinessRow,
    escalation_timeliness,
    timeliness,
)
from qaf_escalations.settings import EscalationsSettings

SOURCE = "escalations"
log = structlog.get_logger(__name__)

Uow = UnitOfWork[Repository]
T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """What every use case needs besides the database: the calendar, the clock, the timescales."""

    clock: Clock = field(default_factory=WallClock)
    calendar: WorkingCalendar = ENGLAND_AND_WALES
    escalation_timescales: EscalationTimescales = field(default_factory=EscalationTimescales)
    complaint_timescales: ComplaintTimescales = field(default_factory=ComplaintTimescales)

    @classmethod
    def from_settings(cls, settings: EscalationsSettings, clock: Clock | None = None) -> Context:
        """The settings' timescales, and `clock` or else the one the settings name (pinned or the wall's)."""
        return cls(
            clock=clock or (FixedClock(settings.today) if settings.today else WallClock()),
            escalation_timescales=settings.escalation_timescales(),
            complaint_timescales=settings.complaint_timescales(),
        )

    async def today(self) -> date:
        today = await self.clock.today()
        if today is None:  # only an event clock before its first event has no today; this service has none
            raise RuntimeError("the escalations service's clock does not know what day it is")
        return today


def _envelopes(emitted: list[Emitted]) -> list[Envelope[Any]]:
    """The events of one operation, sharing one correlation id."""
    correlation_id = uuid.uuid4()
    return [
        new_envelope(item.payload, source=SOURCE, occurred_at=item.occurred_at, correlation_id=correlation_id)
        for item in emitted
    ]


async def _commit_action(
    uow: Uow, kind: str, subject_id: str, action: str, on: date, actor: Actor, note: str | None,
    emitted: list[Emitted],
) -> None:
    """After the aggregate is saved: the action's note, the event clock it carried on, and the commit
    with the events it caused."""
    await uow.repository.add_note(kind, subject_id, action, on, actor.id, note)
    await uow.repository.advance_event_clock(on)
    uow.emit(*_envelopes(emitted))
    await uow.commit()


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


# --- cases (from the case systems' events) -----------------------------------------------------


async def _not_after_today(ctx: Context, case: CaseOpened | CaseClosed, field_name: str, value: date) -> None:
    today = await ctx.today()
    if value > today:
        raise EventFromTheFuture(
            f"{case.EVENT_TYPE} for case {case.case_id}: {field_name} {value.isoformat()} is in the future "
            f"(the escalations service's today is {today.isoformat()})"
        )


async def _advance_event_clock(uow: Uow, ctx: Context, at: datetime) -> None:
    """A case event carries the event clock to its date, never beyond the service's today."""
    await uow.repository.advance_event_clock(min(at.date(), await ctx.today()))


async def record_case_opened(uow: Uow, ctx: Context, case: CaseOpened, at: datetime) -> None:
    """The latest state by event time wins; a case opened after an older closure is open again."""
    async with uow:
        await _not_after_today(ctx, case, "opened_on", case.opened_on)
        await uow.repository.upsert_case_state(
            case_id=case.case_id, service=case.service.value, team_id=case.team_id,
            team_manager_id=case.team_manager_id, opened_on=case.opened_on, at=at, reopens=True,
        )
        await _advance_event_clock(uow, ctx, at)
        await uow.commit()


async def record_case_updated(uow: Uow, ctx: Context, case: CaseUpdated, at: datetime) -> None:
    async with uow:
        await uow.repository.upsert_case_state(
            case_id=case.case_id, service=case.service.value, team_id=case.team_id,
            team_manager_id=case.team_manager_id, opened_on=None, at=at, reopens=False,
        )
        await _advance_event_clock(uow, ctx, at)
        await uow.commit()


async def record_case_closed(uow: Uow, ctx: Context, case: CaseClosed, at: datetime) -> None:
    async with uow:
        await _not_after_today(ctx, case, "closed_on", case.closed_on)
        await uow.repository.close_case(case_id=case.case_id, closed_on=case.closed_on, at=at)
        await _advance_event_clock(uow, ctx, at)
        await uow.commit()


# --- escalations ------------------------------------------------------------------------------


async def raise_escalation(
    uow: Uow,
    ctx: Context,
    actor: Actor,
    *,
    case_id: str,
    reason: EscalationReason,
    raised_on: date,
    stage: EscalationStage = EscalationStage.INFORMAL,
    escalation_id: str | None = None,
    addressed_to_team_id: str | None = None,
    addressed_to_manager_id: str | None = None,
    raised_by_role: EscalationRole | None = None,
    raised_by_id: str | None = None,
    note: str | None = None,
) -> Escalation:
    role, raised_by = raiser(actor, raised_by_role, raised_by_id)
    not_in_future(raised_on, "raised_on", await ctx.today())
    async with uow:
        repo = uow.repository
        case = await repo.get_case(case_id)
        if case is None or case.service is None:
            raise InvalidInput(
                f"case_id {case_id} is not a case known to the escalations service (no case-opened or case-updated "
                "event has been received for it)",
                "case_id",
            )
        if case.closed_on is not None and raised_on > case.closed_on:
            raise IllegalTransition(
                f"case {case_id} was closed on {case.closed_on.isoformat()}; an escalation cannot be raised about "
                f"it on {raised_on.isoformat()}",
                "case_id",
            )
        if case.opened_on is not None and raised_on < case.opened_on:
            raise InvalidInput(
                f"raised_on {raised_on.isoformat()} is before case {case_id} was opened "
                f"({case.opened_on.isoformat()})",
                "raised_on",
            )
        team = addressed_to_team_id or case.team_id
        manager = addressed_to_manager_id or case.team_manager_id
        assert team is not None and manager is not None  # a case with a service always has its team and manager
        if escalation_id is None:
            escalation_id = _new_id("E")
        elif await repo.escalation_exists(escalation_id):
            raise AlreadyExists(f"escalation {escalation_id} already exists", "escalation_id")
        escalation, emitted = Escalation.raise_(
            escalation_id=escalation_id,
            case_id=case_id,
            service=case.service,
            raised_by_role=role,
            raised_by_id=raised_by,
            reason=reason,
            stage=stage,
            addressed_to_team_id=team,
            addressed_to_manager_id=manager,
            raised_on=raised_on,
            calendar=ctx.calendar,
            timescales=ctx.escalation_timescales,
        )
        await uow.repository.save_escalation(escalation)
        await _commit_action(uow, "escalation", escalation_id, "raise", raised_on, actor, note, emitted)
    log.info("escalation.raised", escalation_id=escalation_id, case_id=case_id, stage=stage.value)
    return escalation


async def _escalation_for_update(uow: Uow, escalation_id: str) -> Escalation:
    escalation = await uow.repository.get_escalation(escalation_id, for_update=True)
    if escalation is None:
        raise NotFound(f"no escalation {escalation_id}")
    return escalation


async def progress_escalation(
    uow: Uow,
    ctx: Context,
    actor: Actor,
    escalation_id: str,
    *,
    progressed_on: date,
    to_stage: EscalationStage | None = None,
    addressed_to_manager_id: str | None = None,
    note: str | None = None,
) -> Escalation:
    async with uow:
        escalation = await _escalation_for_update(uow, escalation_id)
        check_may_act(actor, escalation, "progress")
        target = escalation.target_of_progress(to_stage)
        not_in_future(progressed_on, "progressed_on", await ctx.today())
        if addressed_to_manager_id is None:
            if target is not EscalationStage.TEAM_MANAGER:
                raise InvalidInput(
                    f"addressed_to_manager_id is required to progress escalation {escalation_id} to {target}: "
                    "name the manager who answers at that stage",
                    "addressed_to_manager_id",
                )
            case = await uow.repository.get_case(escalation.case_id)
            addressed_to_manager_id = (case.team_manager_id if case else None) or escalation.addressed_to_manager_id
        emitted = escalation.progress(
            on=progressed_on,
            to_stage=target,
            addressed_to_manager_id=addressed_to_manager_id,
            calendar=ctx.calendar,
            timescales=ctx.escalation_timescales,
        )
        await uow.repository.save_escalation(escalation)
        await _commit_action(uow, "escalation", escalation_id, "progress", progressed_on, actor, note, emitted)
    log.info("escalation.progressed", escalation_id=escalation_id, stage=target.value)
    return escalation


async def resolve_escalation(
    uow: Uow,
    ctx: Context,
    actor: Actor,
    escalation_id: str,
    *,
    resolved_on: date,
    outcome: EscalationOutcome,
    note: str | None = None,
) -> Escalation:
    async with uow:
        escalation = await _escalation_for_update(uow, escalation_id)
        check_may_act(actor, escalation, "resolve")
        not_in_future(resolved_on, "resolved_on", await ctx.today())
        emitted = escalation.resolve(on=resolved_on, outcome=outcome)
        await uow.repository.save_escalation(escalation)
        await _commit_action(uow, "escalation", escalation_id, "resolve", resolved_on, actor, note, emitted)
    log.info("escalation.resolved", escalation_id=escalation_id, outcome=outcome.value)
    return escalation


async def withdraw_escalation(
    uow: Uow, ctx: Context, actor: Actor, escalation_id: str, *, withdrawn_on: date, note: str | None = None,
) -> Escalation:
    async with uow:
        escalation = await _escalation_for_update(uow, escalation_id)
        check_may_act(actor, escalation, "withdraw")
        not_in_future(withdrawn_on, "withdrawn_on", await ctx.today())
        emitted = escalation.withdraw(on=withdrawn_on)
        await uow.repository.save_escalation(escalation)
        await _commit_action(uow, "escalation", escalation_id, "withdraw", withdrawn_on, actor, note, emitted)
    log.info("escalation.withdrawn", escalation_id=escalation_id)
    return escalation


async def list_escalations(
    uow: Uow, *, status: EscalationStatus | None, case_id: str | None, service: Service | None, limit: int,
    offset: int,
) -> list[Escalation]:
    async with uow:
        ids = await uow.repository.list_escalations(
            status=status.value if status else None, case_id=case_id, service=service.value if service else None,
            limit=limit, offset=offset,
        )
        return await _each(ids, uow.repository.get_escalation)


async def escalation_with_notes(
    uow: Uow, actor: Actor, escalation_id: str
) -> tuple[Escalation, list[Note] | None]:
    """One escalation, and its notes when the caller may see them."""
    async with uow:
        return await _with_notes(uow, actor, "escalation", escalation_id, uow.repository.get_escalation)


@dataclass(frozen=True)
class OverdueReported:
    escalation_id: str
    stage: EscalationStage
    due_on: date


async def sweep_overdue(uow: Uow, ctx: Context, as_of: date) -> list[OverdueReported]:
    """Report, once each, the open escalations whose current stage's due date passed before `as_of`.

    One short unit of work per escalation (row locked), so a sweep interrupted by a restart resumes
    where it stopped and never reports a stage twice.
    """
    not_in_future(as_of, "as_of", await ctx.today())
    reported: list[OverdueReported] = []
    while True:
        async with uow:
            candidates = await uow.repository.open_escalations_due_before(as_of)
        if not candidates:
            return reported
        progress = 0
        for escalation_id in candidates:
            async with uow:
                escalation = await uow.repository.get_escalation(escalation_id, for_update=True)
                if escalation is None:
                    continue
                emitted = escalation.overdue_as_of(as_of)
                if not emitted:
                    continue
                await uow.repository.save_escalation(escalation)
                uow.emit(*_envelopes(emitted))
                await uow.commit()
            progress += 1
            reported.append(OverdueReported(escalation_id, escalation.stage, escalation.current.due_on))
            log.info("escalation.overdue", escalation_id=escalation_id, stage=escalation.stage.value)
        if progress == 0:
            return reported


async def sweep_as_of(uow: Uow, ctx: Context, basis: str) -> date | None:
    """The date the background sweep runs as of: the latest event date given (never beyond today), or
    the clock's today."""
    today = await ctx.today()
    if basis == "clock":
        return today
    async with uow:
        latest = await uow.repository.event_clock()
    return min(latest, today) if latest else None


async def escalations_timeliness(
    uow: Uow, ctx: Context, *, as_of: date | None, started_from: date | None, started_to: date | None,
    service: Service | None,
) -> tuple[date, list[EscalationTimelinessRow]]:
    today = await ctx.today()
    as_of = as_of or today
    not_in_future(as_of, "as_of", today)
    async with uow:
        steps = await uow.repository.escalation_steps(
            started_from=started_from, started_to=started_to, service=service.value if service else None
        )
    return as_of, escalation_timeliness(steps, as_of)


# --- complaints -------------------------------------------------------------------------------


async def log_complaint(
    uow: Uow,
    ctx: Context,
    actor: Actor,
    *,
    category: ComplaintCategory,
    received_on: date,
    service: Service | None = None,
    case_id: str | None = None,
    complaint_id: str | None = None,
    note: str | None = None,
) -> Complaint:
    not_in_future(received_on, "received_on", await ctx.today())
    async with uow:
        repo = uow.repository
        if case_id is not None:
            case = await repo.get_case(case_id)
            if case is None or case.service is None:
                raise InvalidInput(
                    f"case_id {case_id} is not a case known to the escalations service (no case-opened or "
                    "case-updated event has been received for it); leave it out for a complaint not about one case",
                    "case_id",
                )
            service = service or case.service
        if service is None:
            raise InvalidInput("service is required when the complaint names no case_id", "service")
        if complaint_id is None:
            complaint_id = _new_id("CP")
        elif await repo.complaint_exists(complaint_id):
            raise AlreadyExists(f"complaint {complaint_id} already exists", "complaint_id")
        complaint, emitted = Complaint.log(
            complaint_id=complaint_id,
            case_id=case_id,
            service=service,
            category=category,
            received_on=received_on,
            calendar=ctx.calendar,
            timescales=ctx.complaint_timescales,
        )
        await uow.repository.save_complaint(complaint)
        await _commit_action(uow, "complaint", complaint_id, "log", received_on, actor, note, emitted)
    log.info("complaint.logged", complaint_id=complaint_id, category=category.value)
    return complaint


async def _complaint_for_update(uow: Uow, complaint_id: str) -> Complaint:
    complaint = await uow.repository.get_complaint(complaint_id, for_update=True)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


async def escalate_complaint(
    uow: Uow, ctx: Context, actor: Actor, complaint_id: str, *, requested_on: date, note: str | None = None,
) -> Complaint:
    async with uow:
        complaint = await _complaint_for_update(uow, complaint_id)
        not_in_future(requested_on, "requested_on", await ctx.today())
        emitted = complaint.escalate(on=requested_on, calendar=ctx.calendar, timescales=ctx.complaint_timescales)
        await uow.repository.save_complaint(complaint)
        await _commit_action(uow, "complaint", complaint_id, "escalate", requested_on, actor, note, emitted)
    log.info("complaint.escalated", complaint_id=complaint_id, stage=complaint.current.stage.value)
    return complaint


async def extend_complaint(
    uow: Uow, ctx: Context, actor: Actor, complaint_id: str, *, extended_on: date, reason: ExtensionReason,
    working_days: int | None = None, note: str | None = None,
) -> Complaint:
    async with uow:
        complaint = await _complaint_for_update(uow, complaint_id)
        not_in_future(extended_on, "extended_on", await ctx.today())
        complaint.extend(
            on=extended_on, working_days=working_days, reason=reason, calendar=ctx.calendar,
            timescales=ctx.complaint_timescales,
        )
        await uow.repository.save_complaint(complaint)
        await _commit_action(uow, "complaint", complaint_id, "extend", extended_on, actor, note, emitted=[])
    log.info("complaint.extended", complaint_id=complaint_id, working_days=complaint.current.working_days)
    return complaint


async def resolve_complaint(
    uow: Uow, ctx: Context, actor: Actor, complaint_id: str, *, resolved_on: date, outcome: ComplaintOutcome,
    note: str | None = None,
) -> Complaint:
    async with uow:
        complaint = await _complaint_for_update(uow, complaint_id)
        not_in_future(resolved_on, "resolved_on", await ctx.today())
        emitted = complaint.resolve(on=resolved_on, outcome=outcome)
        await uow.repository.save_complaint(complaint)
        await _commit_action(uow, "complaint", complaint_id, "resolve", resolved_on, actor, note, emitted)
    log.info("complaint.resolved", complaint_id=complaint_id, outcome=outcome.value)
    return complaint


async def list_complaints(
    uow: Uow, *, service: Service | None, case_id: str | None, limit: int, offset: int
) -> list[Complaint]:
    async with uow:
        ids = await uow.repository.list_complaints(
            service=service.value if service else None, case_id=case_id, limit=limit, offset=offset
        )
        return await _each(ids, uow.repository.get_complaint)


async def complaint_with_notes(
    uow: Uow, actor: Actor, complaint_id: str
) -> tuple[Complaint, list[Note] | None]:
    """One complaint, and its notes when the caller may see them."""
    async with uow:
        return await _with_notes(uow, actor, "complaint", complaint_id, uow.repository.get_complaint)


async def _each(ids: list[str], get: Callable[[str], Awaitable[T | None]]) -> list[T]:
    """The escalations or complaints listed, in order (one gone meanwhile is left out)."""
    return [thing for i in ids if (thing := await get(i)) is not None]


async def _with_notes(
    uow: Uow, actor: Actor, kind: str, ident: str, get: Callable[[str], Awaitable[T | None]]
) -> tuple[T, list[Note] | None]:
    thing = await get(ident)
    if thing is None:
        raise NotFound(f"no {kind} {ident}")
    return thing, await uow.repository.notes(kind, ident) if sees_notes(actor) else None


async def complaint_timeliness(
    uow: Uow, ctx: Context, *, as_of: date | None, received_from: date | None, received_to: date | None,
    service: Service | None,
) -> tuple[date, list[TimelinessRow]]:
    today = await ctx.today()
    as_of = as_of or today
    not_in_future(as_of, "as_of", today)
    async with uow:
        records = await uow.repository.stage_records(
            received_from=received_from, received_to=received_to, service=service.value if service else None
        )
    return as_of, timeliness(records, as_of)
