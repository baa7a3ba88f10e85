"""Thin handlers: take an event and the connection of its transaction, apply it.

A rule an event can never pass (an update for a case never opened, a closure before the opening,
a run "as of" a future date) raises PermanentFailure: the event goes to the dead-letter topic with
the reason, and nothing stored is touched.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from qaf_shared.contracts import AllocationRunRequested, AuditCompleted, CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import PermanentFailure

from qaf_allocation.adapters import postgres as repo
from qaf_allocation.application import Context, RunRequest, run_month
from qaf_allocation.domain.calendar import month_of
from qaf_allocation.domain.model import CaseDetails, DomainError, close_case, open_case, update_case

log = structlog.get_logger(__name__)


def _details(p: CaseOpened | CaseUpdated) -> CaseDetails:
    return CaseDetails(p.service, p.team_id, p.worker_id, p.team_manager_id, p.legal_status)


async def handle_case_opened(conn: asyncpg.Connection, event: Envelope[CaseOpened]) -> None:
    p = event.payload
    current = await repo.get_case(conn, p.case_id, for_update=True)
    change = open_case(current, p.case_id, _details(p), p.opened_on, event.occurred_at)
    await _save(conn, change, event)


async def handle_case_updated(conn: asyncpg.Connection, event: Envelope[CaseUpdated]) -> None:
    p = event.payload
    try:
        change = update_case(await repo.get_case(conn, p.case_id, for_update=True), p.case_id, _details(p),
                             event.occurred_at)
    except DomainError as exc:
        raise PermanentFailure(str(exc)) from None
    await _save(conn, change, event)


async def handle_case_closed(conn: asyncpg.Connection, event: Envelope[CaseClosed]) -> None:
    p = event.payload
    try:
        change = close_case(await repo.get_case(conn, p.case_id, for_update=True), p.case_id, p.closed_on,
                            event.occurred_at)
    except DomainError as exc:
        raise PermanentFailure(str(exc)) from None
    await _save(conn, change, event)


async def _save(conn: asyncpg.Connection, change: Any, event: Envelope[Any]) -> None:
    if change.applied:
        await repo.save_case(conn, change.case)
    else:
        log.info("allocation.case_event_stale", case_id=change.case.case_id, event_type=event.event_type)


async def handle_audit_completed(conn: asyncpg.Connection, event: Envelope[AuditCompleted]) -> None:
    p = event.payload
    await repo.record_completion(conn, audit_id=p.audit_id, case_id=p.case_id, service=p.service.value,
                                 auditor_id=p.auditor_id, month=p.month or month_of(p.completed_at.date()),
                                 completed_at=p.completed_at)


async def handle_run_requested(conn: asyncpg.Connection, event: Envelope[AllocationRunRequested],
                               ctx: Context) -> None:
    """The run command. Its seed comes from the command's event id, so a redelivery draws the same."""
    p = event.payload
    request = RunRequest(month=p.month, as_of=p.as_of, requested_by=p.requested_by, trigger="command",
                         seed=event.event_id.int & (2**63 - 1), redraw=p.redraw)
    try:
        outcome = await run_month(conn, ctx, request, causation=event)
    except DomainError as exc:
        raise PermanentFailure(str(exc)) from None
    if not outcome.created:
        log.info("allocation.already_drawn", month=p.month, draw_id=outcome.draw_id)
