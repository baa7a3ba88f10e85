"""Use cases of the allocation service, each over a unit of work.

Called by the Kafka handlers (inside the consumer's transaction), the HTTP routes, the CLI and the
scheduler alike. Domain time is the "as of" date of a run (or the effective date of a roster change),
never the clock; the clock only guards against an "as of" in the future and dates roster changes that
name no date.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import structlog

from qaf_shared.clock import Clock, WallClock
from qaf_shared.contracts import AuditAllocated, AuditReallocated
from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.months import Month, add_months
from qaf_shared.unit_of_work import UnitOfWork
from qaf_shared.vocabulary import Service

from qaf_allocation.adapters.repository import Repository
from qaf_allocation.domain.draw import draw
from qaf_allocation.domain.model import (
    Absence,
    Allocation,
    Auditor,
    Case,
    CaseChange,
    CaseDetails,
    DrawnMonth,
    DrawSettings,
    IllegalChange,
    InvalidInput,
    Population,
    UnknownEntity,
    check_roster,
    close_case,
    open_case,
    update_case,
)
from qaf_allocation.domain.reallocation import Move, Stuck, reallocate
from qaf_allocation.domain.schedule import run_due
from qaf_allocation.domain.target import YearlyTarget, financial_year, year_of, yearly_target
from qaf_allocation.settings import AllocationSettings

log = structlog.get_logger(__name__)

SOURCE = "allocation"
EVENT_NAMESPACE = uuid.UUID("8f4a1c1e-3f5b-4d6e-9a57-2b1c0d7e6f10")


@dataclass
class Context:
    settings: AllocationSettings
    clock: Clock = field(default_factory=WallClock)

    @property
    def draw_settings(self) -> DrawSettings:
        s = self.settings
        return DrawSettings(sample_size=s.sample_size, window_months=s.window_months,
                            recent_audit_months=s.recent_audit_months)

    async def today(self) -> date:
        today = await self.clock.today()
        if today is None:
            raise RuntimeError("the clock does not know today's date")
        return today


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# ------------------------------------------------------------------ the case population and completions


async def record_case_opened(uow: UnitOfWork[Repository], case_id: str, details: CaseDetails, opened_on: date,
                             at: datetime) -> CaseChange:
    return await _apply_to_case(uow, case_id, lambda current: open_case(current, case_id, details, opened_on, at))


async def record_case_updated(uow: UnitOfWork[Repository], case_id: str, details: CaseDetails,
                              at: datetime) -> CaseChange:
    return await _apply_to_case(uow, case_id, lambda current: update_case(current, case_id, details, at))


async def record_case_closed(uow: UnitOfWork[Repository], case_id: str, closed_on: date,
                             at: datetime) -> CaseChange:
    return await _apply_to_case(uow, case_id, lambda current: close_case(current, case_id, closed_on, at))


async def _apply_to_case(uow: UnitOfWork[Repository], case_id: str,
                         change: Callable[[Case | None], CaseChange]) -> CaseChange:
    """Apply one case event to the case as stored (locked); a stale event changes nothing."""
    async with uow:
        outcome = change(await uow.repository.get_case(case_id, for_update=True))
        if outcome.applied:
            await uow.repository.save_case(outcome.case)
        await uow.commit()
    return outcome


async def record_completion(uow: UnitOfWork[Repository], *, audit_id: str, case_id: str, service: Service,
                            auditor_id: str, month: str | None, completed_at: datetime) -> None:
    """A completed audit counts toward the target (in its month, else the month it was completed in)."""
    async with uow:
        await uow.repository.record_completion(
            audit_id=audit_id, case_id=case_id, service=service.value, auditor_id=auditor_id,
            month=month or Month.of(completed_at.date()).label, completed_at=completed_at)
        await uow.commit()


# ------------------------------------------------------------------ the monthly run


@dataclass(frozen=True)
class RunRequest:
    month: str
    as_of: date
    requested_by: str
    trigger: str  # api, cli, command, scheduler
    seed: int | None = None
    redraw: bool = False


@dataclass(frozen=True)
class RunOutcome:
    draw_id: str
    created: bool


async def run_month(uow: UnitOfWork[Repository], ctx: Context, request: RunRequest,
                    causation: Envelope[Any] | None = None) -> RunOutcome:
    """Draw the month once. Asking again returns the existing draw; a redraw supersedes it (recorded)."""
    await _check_run(ctx, request)
    async with uow:
        outcome = await _draw(uow, ctx, request, causation)
        await uow.commit()
    return outcome


async def scheduled_run(uow: UnitOfWork[Repository], ctx: Context) -> str | None:
    """Draw the current month if its run is due. Returns the draw id when it drew one."""
    today = await ctx.today()
    async with uow:
        due = run_due(today, await uow.repository.drawn_months())
        if due is None:
            return None
        month, as_of = due
        outcome = await _draw(uow, ctx, RunRequest(month=month, as_of=as_of, requested_by="scheduler",
                                                   trigger="scheduler"))
        await uow.commit()
    log.info("allocation.scheduled_run", month=month, draw_id=outcome.draw_id, created=outcome.created)
    return outcome.draw_id


async def _check_run(ctx: Context, request: RunRequest) -> None:
    try:
        Month.parse(request.month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    today = await ctx.today()
    if request.as_of > today:
        raise InvalidInput(f"as_of {request.as_of} is in the future (today is {today})", field="as_of")
    if Month.of(request.as_of).label != request.month:
        raise InvalidInput(f"as_of {request.as_of} is not in month {request.month}", field="as_of")
    if request.seed is not None and not 0 <= request.seed < 2**63:
        raise InvalidInput("seed must be between 0 and 2^63-1", field="seed")


async def _draw(uow: UnitOfWork[Repository], ctx: Context, request: RunRequest,
                causation: Envelope[Any] | None = None) -> RunOutcome:
    repo, month = uow.repository, Month.parse(request.month)
    await repo.lock_month(request.month)
    current = await repo.current_draw_id(request.month)
    if current is not None and not request.redraw:
        return RunOutcome(current, False)
    if current is not None:
        completed = await repo.completed_in_draw(current)
        if completed:
            raise IllegalChange(
                f"{request.month} cannot be redrawn: {len(completed)} of its audits are already completed "
                f"({', '.join(completed[:5])})", field="redraw")
    seq = await repo.next_seq(request.month)
    draw_id = f"D-{request.month}" if seq == 0 else f"D-{request.month}-r{seq}"
    prefix = f"A-{request.month}" if seq == 0 else f"A-{request.month}-r{seq}"
    seed = request.seed if request.seed is not None else secrets.randbits(63)
    settings = ctx.draw_settings
    population = await repo.open_population(add_months(request.as_of, -settings.window_months), request.as_of)
    roster = await repo.roster()
    recent: set[str] = set()
    if settings.recent_audit_months > 0:
        # allocated in the previous (n - 1) months, or completed in the n months to the "as of" date
        recent = await repo.recently_audited(
            month.shift(-(settings.recent_audit_months - 1)).label, month.shift(-1).label,
            add_months(request.as_of, -settings.recent_audit_months), request.as_of)
    year_first = year_of(request.month, ctx.settings.year_start_month)[1]
    prior = (await repo.loads_by_auditor(year_first, month.shift(-1).label)
             if year_first < request.month else {})
    result = draw(population, roster, settings, month=request.month, as_of=request.as_of, seed=seed,
                  recently_audited=recent, prior_load=prior, audit_id_prefix=prefix)
    if current is not None:
        await repo.supersede(current, draw_id)
    await repo.insert_draw(
        draw_id, seq, result,
        settings={"sample_size": settings.sample_size, "window_months": settings.window_months,
                  "recent_audit_months": settings.recent_audit_months},
        requested_by=request.requested_by, trigger=request.trigger,
    )
    uow.emit(*(_allocated(draw_id, a, midnight(request.as_of), causation) for a in result.allocations))
    log.info("allocation.drawn", month=request.month, draw_id=draw_id, allocated=len(result.allocations),
             requested=result.requested, shortfall=[s.code for s in result.shortfall], trigger=request.trigger)
    return RunOutcome(draw_id, True)


def _allocated(draw_id: str, a: Allocation, at: datetime, causation: Envelope[Any] | None) -> Envelope[Any]:
    payload = AuditAllocated(draw_id=draw_id, audit_id=a.audit_id, case_id=a.case_id, service=a.service,
                             team_id=a.team_id, auditor_id=a.auditor_id, lead_auditor_id=a.lead_auditor_id,
                             month=a.month, due_on=a.due_on, team_manager_id=a.team_manager_id,
                             explanation=a.explanation)
    return new_envelope(payload, source=SOURCE, occurred_at=at, causation=causation,
                        event_id=uuid.uuid5(EVENT_NAMESPACE, f"audit-allocated:{a.audit_id}"))


async def drawn_month(uow: UnitOfWork[Repository], month: str) -> DrawnMonth:
    """The month's draw in force, with the history of its draws."""
    try:
        Month.parse(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    async with uow:
        draw_id = await uow.repository.current_draw_id(month)
        if draw_id is None:
            raise UnknownEntity(f"month {month} has not been drawn", field="month")
        return DrawnMonth(await uow.repository.recorded_draw(draw_id), await uow.repository.month_history(month))


# ------------------------------------------------------------------ the roster


@dataclass(frozen=True)
class RosterOutcome:
    auditor: Auditor
    created: bool
    moves: list[Move]
    stuck: list[Stuck]


async def roster(uow: UnitOfWork[Repository]) -> list[Auditor]:
    async with uow:
        return await uow.repository.roster()


async def get_auditor(uow: UnitOfWork[Repository], auditor_id: str) -> Auditor:
    async with uow:
        return await _auditor(uow.repository, auditor_id)


async def put_auditor(uow: UnitOfWork[Repository], ctx: Context, auditor: Auditor,
                      effective_on: date | None = None) -> RosterOutcome:
    """Create or replace an auditor; their open audits move if they are no longer available for them."""
    return (await import_roster(uow, ctx, [auditor], effective_on))[0]


async def import_roster(uow: UnitOfWork[Repository], ctx: Context, auditors: Iterable[Auditor],
                        effective_on: date | None = None) -> list[RosterOutcome]:
    """Create or replace auditors, all or none."""
    async with uow:
        await uow.repository.lock_roster()
        outcomes = [await _put(uow, ctx, auditor, effective_on) for auditor in auditors]
        await uow.commit()
    return outcomes


async def _put(uow: UnitOfWork[Repository], ctx: Context, auditor: Auditor,
               effective_on: date | None) -> RosterOutcome:
    roster = await uow.repository.roster()
    before = next((a for a in roster if a.auditor_id == auditor.auditor_id), None)
    check_roster([*(a for a in roster if a.auditor_id != auditor.auditor_id), auditor])
    created = await uow.repository.save_auditor(auditor)
    # a new absence takes effect when it starts; anything else from the given date (or today)
    new_absences = set(auditor.absences) - set(before.absences if before else ())
    effective = effective_on or _earliest(new_absences) or await ctx.today()
    moves, stuck = await _reallocate(uow, auditor, effective)
    return RosterOutcome(auditor, created, moves, stuck)


async def add_absence(uow: UnitOfWork[Repository], auditor_id: str, absence: Absence) -> RosterOutcome:
    """Record an absence; the auditor's open audits falling due in it move from when it starts."""
    async with uow:
        current = await _auditor(uow.repository, auditor_id)
        absences = tuple(sorted({*current.absences, absence}, key=lambda a: (a.starts_on, a.ends_on)))
        updated = Auditor(current.auditor_id, current.service, current.manages_teams, current.is_lead,
                          current.capacity, absences, current.active)
        await uow.repository.save_auditor(updated)
        moves, stuck = await _reallocate(uow, updated, absence.starts_on)
        await uow.commit()
    return RosterOutcome(updated, False, moves, stuck)


async def deactivate(uow: UnitOfWork[Repository], ctx: Context, auditor_id: str,
                     effective_on: date | None = None) -> RosterOutcome:
    """Take an auditor off the roster (kept for history); their open audits move to others."""
    async with uow:
        current = await _auditor(uow.repository, auditor_id)
        updated = Auditor(current.auditor_id, current.service, current.manages_teams, False, current.capacity,
                          current.absences, active=False)
        await uow.repository.save_auditor(updated)
        moves, stuck = await _reallocate(uow, updated, effective_on or await ctx.today())
        await uow.commit()
    return RosterOutcome(updated, False, moves, stuck)


async def set_lead(uow: UnitOfWork[Repository], service: Service, auditor_id: str) -> Auditor:
    """Make `auditor_id` the lead auditor of `service` (the previous lead stays an auditor)."""
    async with uow:
        await uow.repository.lock_roster()
        chosen = next((a for a in await uow.repository.roster() if a.auditor_id == auditor_id), None)
        if chosen is None:
            raise InvalidInput(f"lead auditor {auditor_id} is not on the roster", field="auditor_id")
        if not chosen.active:
            raise InvalidInput(f"lead auditor {auditor_id} is no longer active", field="auditor_id")
        if chosen.service != service:
            raise InvalidInput(
                f"auditor {auditor_id} belongs to {chosen.service.value}, not {service.value}", field="auditor_id")
        await uow.repository.make_lead(service, auditor_id)
        await uow.commit()
    return Auditor(chosen.auditor_id, chosen.service, chosen.manages_teams, True, chosen.capacity,
                   chosen.absences, chosen.active)


async def _auditor(repo: Repository, auditor_id: str) -> Auditor:
    found = next((a for a in await repo.roster() if a.auditor_id == auditor_id), None)
    if found is None:
        raise UnknownEntity(f"auditor {auditor_id} is not on the roster", field="auditor_id")
    return found


def _earliest(absences: set[Absence]) -> date | None:
    return min((a.starts_on for a in absences), default=None)


async def _reallocate(uow: UnitOfWork[Repository], auditor: Auditor,
                      effective_on: date) -> tuple[list[Move], list[Stuck]]:
    repo = uow.repository
    held = await repo.held_audits(auditor.auditor_id, effective_on)
    if not held:
        return [], []
    loads = await repo.month_loads({h.month for h in held})
    moves, stuck = reallocate(held, auditor, await repo.roster(), effective_on=effective_on, month_loads=loads)
    for move in moves:
        effective = max(effective_on, Month.parse(move.month).first_day())
        n = await repo.reallocation_count(move.audit_id)
        await repo.record_move(move, effective)
        uow.emit(_reallocated(move, midnight(effective), n))
    for item in stuck:
        log.warning("allocation.not_reallocated", audit_id=item.audit_id, auditor_id=item.auditor_id)
    return moves, stuck


def _reallocated(move: Move, at: datetime, earlier_moves: int) -> Envelope[Any]:
    payload = AuditReallocated(
        audit_id=move.audit_id, case_id=move.case.case_id, service=move.case.service,
        previous_auditor_id=move.previous_auditor_id, auditor_id=move.auditor_id,
        lead_auditor_id=move.lead_auditor_id, due_on=move.due_on, explanation=move.explanation)
    return new_envelope(payload, source=SOURCE, occurred_at=at,
                        event_id=uuid.uuid5(EVENT_NAMESPACE, f"audit-reallocated:{move.audit_id}:{earlier_moves}"))


# ------------------------------------------------------------------ the yearly target and the population


async def target(uow: UnitOfWork[Repository], ctx: Context, year: int) -> YearlyTarget:
    label, first, last = financial_year(year, ctx.settings.year_start_month)
    async with uow:
        allocated, completed, months = await uow.repository.year_counts(first, last)
    return yearly_target(label, first, last, target_min=ctx.settings.target_min,
                         target_max=ctx.settings.target_max, allocated=allocated, completed=completed,
                         months_drawn=months)


async def population(uow: UnitOfWork[Repository], ctx: Context, as_of: date) -> Population:
    window_start = add_months(as_of, -ctx.settings.window_months)
    async with uow:
        counts = await uow.repository.open_counts(window_start, as_of)
        known = await uow.repository.case_count()
    return Population(as_of, window_start, known, {s: counts.get(s.value, 0) for s in Service},
                      Month.of(as_of).last_day())
