"""Use cases of the allocation service, each applied inside the caller's transaction.

Called by the Kafka handlers, the HTTP routes, the CLI and the scheduler alike. Domain time is the
"as of" date of a run (or the effective date of a roster change), never the wall clock; the clock
only guards against an "as of" in the future.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
import structlog

from qaf_shared.contracts import AuditAllocated, AuditReallocated
from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.kafka import enqueue
from qaf_shared.vocabulary import Service

from qaf_allocation.adapters import postgres as repo
from qaf_allocation.domain.calendar import (
    add_months,
    financial_year,
    month_end,
    month_of,
    month_start,
    parse_month,
    shift_month,
)
from qaf_allocation.domain.draw import draw
from qaf_allocation.domain.model import (
    Absence,
    Auditor,
    DrawSettings,
    IllegalChange,
    InvalidInput,
    UnknownEntity,
    check_roster,
)
from qaf_allocation.domain.reallocation import Move, Stuck, reallocate
from qaf_allocation.domain.target import yearly_target
from qaf_allocation.settings import AllocationSettings

log = structlog.get_logger(__name__)

SOURCE = "allocation"
EVENT_NAMESPACE = uuid.UUID("8f4a1c1e-3f5b-4d6e-9a57-2b1c0d7e6f10")


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass
class Context:
    settings: AllocationSettings
    clock: Callable[[], date] = field(default=today_utc)

    @property
    def draw_settings(self) -> DrawSettings:
        s = self.settings
        return DrawSettings(sample_size=s.sample_size, window_months=s.window_months,
                            recent_audit_months=s.recent_audit_months)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


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


def check_run(ctx: Context, month: str, as_of: date) -> None:
    try:
        parse_month(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    if as_of > ctx.clock():
        raise InvalidInput(f"as_of {as_of} is in the future (today is {ctx.clock()})", field="as_of")
    if month_of(as_of) != month:
        raise InvalidInput(f"as_of {as_of} is not in month {month}", field="as_of")


async def run_month(conn: asyncpg.Connection, ctx: Context, request: RunRequest,
                    causation: Envelope[Any] | None = None) -> RunOutcome:
    """Draw the month once. Asking again returns the existing draw; a redraw supersedes it (recorded)."""
    check_run(ctx, request.month, request.as_of)
    if request.seed is not None and not 0 <= request.seed < 2**63:
        raise InvalidInput("seed must be between 0 and 2^63-1", field="seed")
    async with conn.transaction():
        await repo.lock_month(conn, request.month)
        current = await repo.current_draw_id(conn, request.month)
        if current is not None and not request.redraw:
            return RunOutcome(current, False)
        if current is not None:
            completed = await repo.completed_in_draw(conn, current)
            if completed:
                raise IllegalChange(
                    f"{request.month} cannot be redrawn: {len(completed)} of its audits are already completed "
                    f"({', '.join(completed[:5])})", field="redraw")
        seq = await repo.next_seq(conn, request.month)
        draw_id = f"D-{request.month}" if seq == 0 else f"D-{request.month}-r{seq}"
        prefix = f"A-{request.month}" if seq == 0 else f"A-{request.month}-r{seq}"
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        settings = ctx.draw_settings
        window_start = add_months(request.as_of, -settings.window_months)
        population = await repo.open_population(conn, window_start, request.as_of)
        roster = await repo.roster(conn)
        recent: set[str] = set()
        if settings.recent_audit_months > 0:
            # allocated in the previous (n - 1) months, or completed in the n months to the "as of" date
            recent = await repo.recently_audited(
                conn, shift_month(request.month, -(settings.recent_audit_months - 1)), shift_month(request.month, -1),
                add_months(request.as_of, -settings.recent_audit_months), request.as_of)
        year_first = _year_of(ctx, request.month)[1]
        prior = (await repo.loads_by_auditor(conn, year_first, shift_month(request.month, -1))
                 if year_first < request.month else {})
        result = draw(population, roster, settings, month=request.month, as_of=request.as_of, seed=seed,
                      recently_audited=recent, prior_load=prior, audit_id_prefix=prefix)
        if current is not None:
            await repo.supersede(conn, current, draw_id)
        await repo.insert_draw(
            conn, draw_id, seq, result,
            settings={"sample_size": settings.sample_size, "window_months": settings.window_months,
                      "recent_audit_months": settings.recent_audit_months},
            requested_by=request.requested_by, trigger=request.trigger,
        )
        at = midnight(request.as_of)
        for allocation in result.allocations:
            payload = AuditAllocated(draw_id=draw_id, **repo.allocation_payload_fields(allocation))
            await enqueue(conn, new_envelope(
                payload, source=SOURCE, occurred_at=at, causation=causation,
                event_id=uuid.uuid5(EVENT_NAMESPACE, f"audit-allocated:{allocation.audit_id}")))
    log.info("allocation.drawn", month=request.month, draw_id=draw_id, allocated=len(result.allocations),
             requested=result.requested, shortfall=[s.code for s in result.shortfall], trigger=request.trigger)
    return RunOutcome(draw_id, True)


async def month_view(conn: asyncpg.Connection, month: str) -> dict[str, Any]:
    try:
        parse_month(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    draw_id = await repo.current_draw_id(conn, month)
    if draw_id is None:
        raise UnknownEntity(f"month {month} has not been drawn", field="month")
    view = await repo.draw_view(conn, draw_id)
    view["history"] = await repo.month_history(conn, month)
    return view


# ------------------------------------------------------------------ the roster


@dataclass(frozen=True)
class RosterOutcome:
    auditor: Auditor
    created: bool
    moves: list[Move]
    stuck: list[Stuck]

    def as_dict(self) -> dict[str, Any]:
        return {
            "auditor": repo.auditor_dict(self.auditor),
            "created": self.created,
            "reallocated": [{"audit_id": m.audit_id, "from": m.previous_auditor_id, "to": m.auditor_id,
                             "explanation": m.explanation} for m in self.moves],
            "not_reallocated": [{"audit_id": s.audit_id, "reason": s.reason} for s in self.stuck],
        }


async def get_auditor(conn: asyncpg.Connection, auditor_id: str) -> Auditor:
    found = next((a for a in await repo.roster(conn) if a.auditor_id == auditor_id), None)
    if found is None:
        raise UnknownEntity(f"auditor {auditor_id} is not on the roster", field="auditor_id")
    return found


async def put_auditor(conn: asyncpg.Connection, ctx: Context, auditor: Auditor,
                      effective_on: date | None = None) -> RosterOutcome:
    """Create or replace an auditor; their open audits move if they are no longer available for them."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE auditors IN SHARE ROW EXCLUSIVE MODE")
        roster = await repo.roster(conn)
        before = next((a for a in roster if a.auditor_id == auditor.auditor_id), None)
        check_roster([*(a for a in roster if a.auditor_id != auditor.auditor_id), auditor])
        created = await repo.save_auditor(conn, auditor)
        # a new absence takes effect when it starts; anything else from the given date (or today)
        new_absences = set(auditor.absences) - set(before.absences if before else ())
        effective = effective_on or _earliest(new_absences) or ctx.clock()
        moves, stuck = await _reallocate(conn, auditor, effective)
    return RosterOutcome(auditor, created, moves, stuck)


async def add_absence(conn: asyncpg.Connection, ctx: Context, auditor_id: str, absence: Absence) -> RosterOutcome:
    async with conn.transaction():
        current = await get_auditor(conn, auditor_id)
        absences = tuple(sorted({*current.absences, absence}, key=lambda a: (a.starts_on, a.ends_on)))
        updated = Auditor(current.auditor_id, current.service, current.manages_teams, current.is_lead,
                          current.capacity, absences, current.active)
        await repo.save_auditor(conn, updated)
        moves, stuck = await _reallocate(conn, updated, absence.starts_on)
    return RosterOutcome(updated, False, moves, stuck)


async def deactivate(conn: asyncpg.Connection, ctx: Context, auditor_id: str,
                     effective_on: date | None = None) -> RosterOutcome:
    """Take an auditor off the roster (kept for history); their open audits move to others."""
    async with conn.transaction():
        current = await get_auditor(conn, auditor_id)
        updated = Auditor(current.auditor_id, current.service, current.manages_teams, False, current.capacity,
                          current.absences, active=False)
        await repo.save_auditor(conn, updated)
        moves, stuck = await _reallocate(conn, updated, effective_on or ctx.clock())
    return RosterOutcome(updated, False, moves, stuck)


async def set_lead(conn: asyncpg.Connection, service: Service, auditor_id: str) -> Auditor:
    """Make `auditor_id` the lead auditor of `service` (the previous lead stays an auditor)."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE auditors IN SHARE ROW EXCLUSIVE MODE")
        roster = await repo.roster(conn)
        chosen = next((a for a in roster if a.auditor_id == auditor_id), None)
        if chosen is None:
            raise InvalidInput(f"lead auditor {auditor_id} is not on the roster", field="auditor_id")
        if not chosen.active:
            raise InvalidInput(f"lead auditor {auditor_id} is no longer active", field="auditor_id")
        if chosen.service != service:
            raise InvalidInput(
                f"auditor {auditor_id} belongs to {chosen.service.value}, not {service.value}", field="auditor_id")
        await conn.execute("UPDATE auditors SET is_lead = false, updated_at = now() WHERE service = $1 AND is_lead",
                           service.value)
        await conn.execute("UPDATE auditors SET is_lead = true, updated_at = now() WHERE auditor_id = $1", auditor_id)
    return Auditor(chosen.auditor_id, chosen.service, chosen.manages_teams, True, chosen.capacity,
                   chosen.absences, chosen.active)


def _earliest(absences: set[Absence]) -> date | None:
    return min((a.starts_on for a in absences), default=None)


async def _reallocate(conn: asyncpg.Connection, auditor: Auditor, effective_on: date) -> tuple[list[Move], list[Stuck]]:
    held = await repo.held_audits(conn, auditor.auditor_id, effective_on)
    if not held:
        return [], []
    loads = await repo.month_loads(conn, {h.month for h in held})
    roster = await repo.roster(conn)
    moves, stuck = reallocate(held, auditor, roster, effective_on=effective_on, month_loads=loads)
    for move in moves:
        effective = max(effective_on, month_start(move.month))
        n = await repo.reallocation_count(conn, move.audit_id)
        await repo.record_move(conn, move, effective)
        payload = AuditReallocated(
            audit_id=move.audit_id, case_id=move.case.case_id, service=move.case.service,
            previous_auditor_id=move.previous_auditor_id, auditor_id=move.auditor_id,
            lead_auditor_id=move.lead_auditor_id, due_on=move.due_on, explanation=move.explanation)
        await enqueue(conn, new_envelope(
            payload, source=SOURCE, occurred_at=midnight(effective),
            event_id=uuid.uuid5(EVENT_NAMESPACE, f"audit-reallocated:{move.audit_id}:{n}")))
    for item in stuck:
        log.warning("allocation.not_reallocated", audit_id=item.audit_id, auditor_id=item.auditor_id)
    return moves, stuck


# ------------------------------------------------------------------ the yearly target


def _year_of(ctx: Context, month: str) -> tuple[str, str, str]:
    year, mon = parse_month(month)
    start = ctx.settings.year_start_month
    return financial_year(year if mon >= start else year - 1, start)


async def target_view(conn: asyncpg.Connection, ctx: Context, year: int) -> dict[str, Any]:
    label, first, last = financial_year(year, ctx.settings.year_start_month)
    allocated, completed, months = await repo.year_counts(conn, first, last)
    return yearly_target(label, first, last, target_min=ctx.settings.target_min,
                         target_max=ctx.settings.target_max, allocated=allocated, completed=completed,
                         months_drawn=months).as_dict()


async def population_view(conn: asyncpg.Connection, ctx: Context, as_of: date) -> dict[str, Any]:
    window_start = add_months(as_of, -ctx.settings.window_months)
    counts = await repo.open_counts(conn, window_start, as_of)
    return {"as_of": as_of.isoformat(), "window_start": window_start.isoformat(),
            "cases_known": await repo.case_count(conn), "open": sum(counts.values()),
            "open_by_service": {s.value: counts.get(s.value, 0) for s in Service},
            "due_on": month_end(month_of(as_of)).isoformat()}
