"""Thin handlers: take an event and the connection of its transaction, run its use case in it.

A rule an event can never pass (an update for a case never opened, a closure before the opening,
a run "as of" a future date) is a use case's refusal (qaf_shared.errors): the consumer dead-letters
the event with its reason, and nothing stored is touched.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import asyncpg
import structlog

from qaf_shared.contracts import AllocationRunRequested, AuditCompleted, CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.envelope import Envelope
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_allocation import usecases
from qaf_allocation.adapters.repository import Repository
from qaf_allocation.domain.model import CaseChange, CaseDetails

log = structlog.get_logger(__name__)


def _joined(conn: asyncpg.Connection) -> PostgresUnitOfWork[Repository]:
    return PostgresUnitOfWork.joined(conn, Repository)


def _details(p: CaseOpened | CaseUpdated) -> CaseDetails:
    return CaseDetails(p.service, p.team_id, p.worker_id, p.team_manager_id, p.legal_status)


async def handle_case_opened(conn: asyncpg.Connection, event: Envelope[CaseOpened]) -> None:
    p = event.payload
    await _apply_case_event(event, usecases.record_case_opened(_joined(conn), p.case_id, _details(p), p.opened_on,
                                                               event.occurred_at))


async def handle_case_updated(conn: asyncpg.Connection, event: Envelope[CaseUpdated]) -> None:
    p = event.payload
    await _apply_case_event(event, usecases.record_case_updated(_joined(conn), p.case_id, _details(p),
                                                                event.occurred_at))


async def handle_case_closed(conn: asyncpg.Connection, event: Envelope[CaseClosed]) -> None:
    p = event.payload
    await _apply_case_event(event, usecases.record_case_closed(_joined(conn), p.case_id, p.closed_on,
                                                               event.occurred_at))


async def _apply_case_event(event: Envelope[Any], applying: Awaitable[CaseChange]) -> None:
    change = await applying
    if not change.applied:
        log.info("allocation.case_event_stale", case_id=change.case.case_id, event_type=event.event_type)


async def handle_audit_completed(conn: asyncpg.Connection, event: Envelope[AuditCompleted]) -> None:
    p = event.payload
    await usecases.record_completion(_joined(conn), audit_id=p.audit_id, case_id=p.case_id, service=p.service,
                                     auditor_id=p.auditor_id, month=p.month, completed_at=p.completed_at)


async def handle_run_requested(conn: asyncpg.Connection, event: Envelope[AllocationRunRequested],
                               ctx: usecases.Context) -> None:
    """The run command. Its seed comes from the command's event id, so a redelivery draws the same."""
    p = event.payload
    request = usecases.RunRequest(month=p.month, as_of=p.as_of, requested_by=p.requested_by, trigger="command",
                                  seed=event.event_id.int & (2**63 - 1), redraw=p.redraw)
    outcome = await usecases.run_month(_joined(conn), ctx, request, causation=event)
    if not outcome.created:
        log.info("allocation.already_drawn", month=p.month, draw_id=outcome.draw_id)
