"""Use cases: each runs in the caller's transaction, applies the domain's rules to the stored
aggregate, saves it and puts the events it caused in the outbox, or raises a DomainError and
changes nothing. The HTTP router and the CLI call these; the rules themselves live in domain/.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import enqueue
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
from qaf_escalations.domain.calendar import WorkingCalendar
from qaf_escalations.domain.clock import Clock, SystemClock
from qaf_escalations.domain.complaints import Complaint, ComplaintTimescales, ExtensionReason
from qaf_escalations.domain.errors import AlreadyExists, IllegalTransition, InvalidInput, NotFound
from qaf_escalations.domain.escalations import Escalation, EscalationTimescales
from qaf_escalations.domain.events import Emitted, not_in_future
from qaf_escalations.domain.permissions import Actor, check_may_act, raiser
from qaf_escalations.domain.timeliness import (
    EscalationTimelinessRow,
    TimelinessRow,
    escalation_timeliness,
    timeliness,
)

SOURCE = "escalations"
log = structlog.get_logger(__name__)


@dataclass
class Context:
    """What every use case needs besides the database: the calendar, the clock, the timescales."""

    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    clock: Clock = field(default_factory=SystemClock)
    escalation_timescales: EscalationTimescales = field(default_factory=EscalationTimescales)
    complaint_timescales: ComplaintTimescales = field(default_factory=ComplaintTimescales)

    def today(self) -> date:
        return self.clock.today()


async def _emit(conn: asyncpg.Connection, emitted: list[Emitted], correlation_id: UUID | None = None) -> None:
    correlation_id = correlation_id or uuid.uuid4()
    for item in emitted:
        await enqueue(
            conn, new_envelope(item.payload, source=SOURCE, occurred_at=item.occurred_at, correlation_id=correlation_id)
        )


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


# --- escalations ------------------------------------------------------------------------------


async def raise_escalation(
    conn: asyncpg.Connection,
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
    repo = Repository(conn)
    role, raised_by = raiser(actor, raised_by_role, raised_by_id)
    not_in_future(raised_on, "raised_on", ctx.today())
    case = await repo.get_case(case_id)
    if case is None or case.service is None:
        raise InvalidInput(
            f"case_id {case_id} is not a case known to the escalations service (no case-opened or case-updated "
            "event has been received for it)",
            "case_id",
        )
    if case.closed_on is not None and raised_on > case.closed_on:
        raise IllegalTransition(
            f"case {case_id} was closed on {case.closed_on.isoformat()}; an escalation cannot be raised about it "
            f"on {raised_on.isoformat()}",
            "case_id",
        )
    if case.opened_on is not None and raised_on < case.opened_on:
        raise InvalidInput(
            f"raised_on {raised_on.isoformat()} is before case {case_id} was opened ({case.opened_on.isoformat()})",
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
    await repo.save_escalation(escalation)
    await repo.add_note("escalation", escalation_id, "raise", raised_on, actor.id, note)
    await repo.advance_event_clock(raised_on)
    await _emit(conn, emitted)
    log.info("escalation.raised", escalation_id=escalation_id, case_id=case_id, stage=stage.value)
    return escalation


async def _escalation_for_update(repo: Repository, escalation_id: str) -> Escalation:
    escalation = await repo.get_escalation(escalation_id, for_update=True)
    if escalation is None:
        raise NotFound(f"no escalation {escalation_id}")
    return escalation


async def progress_escalation(
    conn: asyncpg.Connection,
    ctx: Context,
    actor: Actor,
    escalation_id: str,
    *,
    progressed_on: date,
    to_stage: EscalationStage | None = None,
    addressed_to_manager_id: str | None = None,
    note: str | None = None,
) -> Escalation:
    repo = Repository(conn)
    escalation = await _escalation_for_update(repo, escalation_id)
    check_may_act(actor, escalation, "progress")
    target = escalation.target_of_progress(to_stage)
    not_in_future(progressed_on, "progressed_on", ctx.today())
    if addressed_to_manager_id is None:
        if target is not EscalationStage.TEAM_MANAGER:
            raise InvalidInput(
                f"addressed_to_manager_id is required to progress escalation {escalation_id} to {target}: "
                "name the manager who answers at that stage",
                "addressed_to_manager_id",
            )
        case = await repo.get_case(escalation.case_id)
        addressed_to_manager_id = (case.team_manager_id if case else None) or escalation.addressed_to_manager_id
    emitted = escalation.progress(
        on=progressed_on,
        to_stage=target,
        addressed_to_manager_id=addressed_to_manager_id,
        calendar=ctx.calendar,
        timescales=ctx.escalation_timescales,
    )
    await repo.save_escalation(escalation)
    await repo.add_note("escalation", escalation_id, "progress", progressed_on, actor.id, note)
    await repo.advance_event_clock(progressed_on)
    await _emit(conn, emitted)
    log.info("escalation.progressed", escalation_id=escalation_id, stage=target.value)
    return escalation


async def resolve_escalation(
    conn: asyncpg.Connection,
    ctx: Context,
    actor: Actor,
    escalation_id: str,
    *,
    resolved_on: date,
    outcome: EscalationOutcome,
    note: str | None = None,
) -> Escalation:
    repo = Repository(conn)
    escalation = await _escalation_for_update(repo, escalation_id)
    check_may_act(actor, escalation, "resolve")
    not_in_future(resolved_on, "resolved_on", ctx.today())
    emitted = escalation.resolve(on=resolved_on, outcome=outcome)
    await repo.advance_event_clock(resolved_on)
    await repo.save_escalation(escalation)
    await repo.add_note("escalation", escalation_id, "resolve", resolved_on, actor.id, note)
    await _emit(conn, emitted)
    log.info("escalation.resolved", escalation_id=escalation_id, outcome=outcome.value)
    return escalation


async def withdraw_escalation(
    conn: asyncpg.Connection, ctx: Context, actor: Actor, escalation_id: str, *, withdrawn_on: date,
    note: str | None = None,
) -> Escalation:
    repo = Repository(conn)
    escalation = await _escalation_for_update(repo, escalation_id)
    check_may_act(actor, escalation, "withdraw")
    not_in_future(withdrawn_on, "withdrawn_on", ctx.today())
    emitted = escalation.withdraw(on=withdrawn_on)
    await repo.advance_event_clock(withdrawn_on)
    await repo.save_escalation(escalation)
    await repo.add_note("escalation", escalation_id, "withdraw", withdrawn_on, actor.id, note)
    await _emit(conn, emitted)
    log.info("escalation.withdrawn", escalation_id=escalation_id)
    return escalation


@dataclass(frozen=True)
class OverdueReported:
    escalation_id: str
    stage: EscalationStage
    due_on: date


async def sweep_overdue(pool: asyncpg.Pool, ctx: Context, as_of: date) -> list[OverdueReported]:
    """Report, once each, the open escalations whose current stage's due date passed before `as_of`.

    One short transaction per escalation (row locked), so a sweep interrupted by a restart resumes
    where it stopped and never reports a stage twice.
    """
    not_in_future(as_of, "as_of", ctx.today())
    reported: list[OverdueReported] = []
    while True:
        async with pool.acquire() as conn:
            candidates = await Repository(conn).open_escalations_due_before(as_of)
        if not candidates:
            return reported
        progress = 0
        for escalation_id in candidates:
            async with pool.acquire() as conn, conn.transaction():
                repo = Repository(conn)
                escalation = await repo.get_escalation(escalation_id, for_update=True)
                if escalation is None:
                    continue
                emitted = escalation.overdue_as_of(as_of)
                if not emitted:
                    continue
                await repo.save_escalation(escalation)
                await _emit(conn, emitted)
                progress += 1
                reported.append(OverdueReported(escalation_id, escalation.stage, escalation.current.due_on))
                log.info("escalation.overdue", escalation_id=escalation_id, stage=escalation.stage.value)
        if progress == 0:
            return reported


async def background_as_of(pool: asyncpg.Pool, ctx: Context, basis: str) -> date | None:
    """The date the background sweep runs as of: the latest event date given, or the clock's today."""
    today = ctx.today()
    if basis == "clock":
        return today
    async with pool.acquire() as conn:
        latest = await Repository(conn).event_clock()
    return min(latest, today) if latest else None


async def escalations_timeliness(
    conn: asyncpg.Connection, ctx: Context, *, as_of: date | None, started_from: date | None,
    started_to: date | None, service: Service | None,
) -> tuple[date, list[EscalationTimelinessRow]]:
    as_of = as_of or ctx.today()
    not_in_future(as_of, "as_of", ctx.today())
    steps = await Repository(conn).escalation_steps(
        started_from=started_from, started_to=started_to, service=service.value if service else None
    )
    return as_of, escalation_timeliness(steps, as_of)


def escalation_view(escalation: Escalation, notes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "escalation_id": escalation.escalation_id,
        "case_id": escalation.case_id,
        "service": escalation.service,
        "raised_by_role": escalation.raised_by_role,
        "raised_by_id": escalation.raised_by_id,
        "reason": escalation.reason,
        "theme": escalation.theme,
        "status": escalation.status,
        "stage": escalation.stage,
        "addressed_to_team_id": escalation.addressed_to_team_id,
        "addressed_to_manager_id": escalation.addressed_to_manager_id,
        "raised_on": escalation.raised_on,
        "due_on": escalation.current.due_on,
        "outcome": escalation.outcome,
        "closed_on": escalation.closed_on,
        "within_timescale": escalation.within_timescale,
        "overdue_stages": sorted(escalation.overdue_stages, key=list(EscalationStage).index),
        "stages": [
            {
                "stage": s.stage,
                "started_on": s.started_on,
                "due_on": s.due_on,
                "addressed_to_manager_id": s.addressed_to_manager_id,
                "ended_on": s.ended_on,
                "ended_by": s.ended_by,
                "overdue": s.stage in escalation.overdue_stages,
            }
            for s in escalation.steps
        ],
    }
    if notes is not None:
        view["notes"] = notes
    return view


# --- complaints -------------------------------------------------------------------------------


async def log_complaint(
    conn: asyncpg.Connection,
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
    repo = Repository(conn)
    not_in_future(received_on, "received_on", ctx.today())
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
    await repo.save_complaint(complaint)
    await repo.add_note("complaint", complaint_id, "log", received_on, actor.id, note)
    await repo.advance_event_clock(received_on)
    await _emit(conn, emitted)
    log.info("complaint.logged", complaint_id=complaint_id, category=category.value)
    return complaint


async def _complaint_for_update(repo: Repository, complaint_id: str) -> Complaint:
    complaint = await repo.get_complaint(complaint_id, for_update=True)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


async def escalate_complaint(
    conn: asyncpg.Connection, ctx: Context, actor: Actor, complaint_id: str, *, requested_on: date,
    note: str | None = None,
) -> Complaint:
    repo = Repository(conn)
    complaint = await _complaint_for_update(repo, complaint_id)
    not_in_future(requested_on, "requested_on", ctx.today())
    emitted = complaint.escalate(on=requested_on, calendar=ctx.calendar, timescales=ctx.complaint_timescales)
    await repo.advance_event_clock(requested_on)
    await repo.save_complaint(complaint)
    await repo.add_note("complaint", complaint_id, "escalate", requested_on, actor.id, note)
    await _emit(conn, emitted)
    log.info("complaint.escalated", complaint_id=complaint_id, stage=complaint.current.stage.value)
    return complaint


async def extend_complaint(
    conn: asyncpg.Connection, ctx: Context, actor: Actor, complaint_id: str, *, extended_on: date,
    reason: ExtensionReason, working_days: int | None = None, note: str | None = None,
) -> Complaint:
    repo = Repository(conn)
    complaint = await _complaint_for_update(repo, complaint_id)
    not_in_future(extended_on, "extended_on", ctx.today())
    complaint.extend(
        on=extended_on, working_days=working_days, reason=reason, calendar=ctx.calendar,
        timescales=ctx.complaint_timescales,
    )
    await repo.advance_event_clock(extended_on)
    await repo.save_complaint(complaint)
    await repo.add_note("complaint", complaint_id, "extend", extended_on, actor.id, note)
    log.info("complaint.extended", complaint_id=complaint_id, working_days=complaint.current.working_days)
    return complaint


async def resolve_complaint(
    conn: asyncpg.Connection, ctx: Context, actor: Actor, complaint_id: str, *, resolved_on: date,
    outcome: ComplaintOutcome, note: str | None = None,
) -> Complaint:
    repo = Repository(conn)
    complaint = await _complaint_for_update(repo, complaint_id)
    not_in_future(resolved_on, "resolved_on", ctx.today())
    emitted = complaint.resolve(on=resolved_on, outcome=outcome)
    await repo.advance_event_clock(resolved_on)
    await repo.save_complaint(complaint)
    await repo.add_note("complaint", complaint_id, "resolve", resolved_on, actor.id, note)
    await _emit(conn, emitted)
    log.info("complaint.resolved", complaint_id=complaint_id, outcome=outcome.value)
    return complaint


async def complaint_timeliness(
    conn: asyncpg.Connection, ctx: Context, *, as_of: date | None, received_from: date | None,
    received_to: date | None, service: Service | None,
) -> tuple[date, list[TimelinessRow]]:
    as_of = as_of or ctx.today()
    not_in_future(as_of, "as_of", ctx.today())
    records = await Repository(conn).stage_records(
        received_from=received_from, received_to=received_to, service=service.value if service else None
    )
    return as_of, timeliness(records, as_of)


def complaint_view(complaint: Complaint, notes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "complaint_id": complaint.complaint_id,
        "case_id": complaint.case_id,
        "service": complaint.service,
        "category": complaint.category,
        "theme": complaint.theme,
        "status": complaint.status,
        "stage": complaint.current.stage,
        "due_on": complaint.current.due_on,
        "stages": [
            {
                "stage": r.stage,
                "received_on": r.received_on,
                "working_days": r.working_days,
                "due_on": r.due_on,
                "extensions": [
                    {"extended_on": x.extended_on, "from_working_days": x.from_working_days,
                     "to_working_days": x.to_working_days, "reason": x.reason}
                    for x in r.extensions
                ],
                "resolved_on": r.resolved_on,
                "outcome": r.outcome,
                "within_timescale": r.within_timescale,
                "escalated_on": r.escalated_on,
            }
            for r in complaint.stages
        ],
    }
    if notes is not None:
        view["notes"] = notes
    return view
