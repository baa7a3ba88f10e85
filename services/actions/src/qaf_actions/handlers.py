"""Thin handlers: take an event and the connection of its transaction, run its use case there.

Two consumers: `actions` (theme-updated and action-milestone-updated → drift) and `actions.digest`
(audits, escalations, complaints and allocations → the work ledger behind the Board digest's overdue
figures). Both advance the event clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg
from pydantic import BaseModel

from qaf_shared import contracts
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import Handlers
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_actions import usecases
from qaf_actions.adapters.repository import Repository
from qaf_actions.usecases import Context

DriftEvent = Envelope[contracts.ThemeUpdated | contracts.ActionMilestoneUpdated]


class DriftConsumer:
    """theme-updated and action-milestone-updated, one at a time or a batch at once (one evaluation)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def handlers(self) -> Handlers:
        return {contracts.ThemeUpdated: self.apply_one, contracts.ActionMilestoneUpdated: self.apply_one}

    async def apply_one(self, conn: asyncpg.Connection, event: DriftEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: asyncpg.Connection, events: Sequence[DriftEvent]) -> None:
        # a milestone of an action the plan does not have is refused (UnknownAction) and dead-lettered
        await usecases.apply_drift_events(PostgresUnitOfWork.joined(conn, Repository), self.ctx, events)


# -- the work ledger for the digest: each event recorded by its entry in the Repository ---------------

P = TypeVar("P", bound=BaseModel)


async def _record(conn: asyncpg.Connection, event: Envelope[P],
                  entry: Callable[[Repository], Callable[[P, datetime], Awaitable[None]]]) -> None:
    await usecases.record_work(PostgresUnitOfWork.joined(conn, Repository), event, entry)


async def on_audit_allocated(conn: asyncpg.Connection, event: Envelope[contracts.AuditAllocated]) -> None:
    await _record(conn, event, lambda repository: repository.audit_allocated)


async def on_audit_reallocated(conn: asyncpg.Connection, event: Envelope[contracts.AuditReallocated]) -> None:
    await _record(conn, event, lambda repository: repository.audit_reallocated)


async def on_audit_completed(conn: asyncpg.Connection, event: Envelope[contracts.AuditCompleted]) -> None:
    await _record(conn, event, lambda repository: repository.audit_completed)


async def on_audit_overdue(conn: asyncpg.Connection, event: Envelope[contracts.AuditOverdue]) -> None:
    await _record(conn, event, lambda repository: repository.audit_overdue)


async def on_practice_concern_raised(conn: asyncpg.Connection,
                                     event: Envelope[contracts.PracticeConcernRaised]) -> None:
    await _record(conn, event, lambda repository: repository.practice_concern_raised)


async def on_escalation_raised(conn: asyncpg.Connection, event: Envelope[contracts.EscalationRaised]) -> None:
    await _record(conn, event, lambda repository: repository.escalation_raised)


async def on_escalation_progressed(conn: asyncpg.Connection, event: Envelope[contracts.EscalationProgressed]) -> None:
    await _record(conn, event, lambda repository: repository.escalation_progressed)


async def on_escalation_resolved(conn: asyncpg.Connection, event: Envelope[contracts.EscalationResolved]) -> None:
    await _record(conn, event, lambda repository: repository.escalation_resolved)


async def on_escalation_overdue(conn: asyncpg.Connection, event: Envelope[contracts.EscalationOverdue]) -> None:
    await _record(conn, event, lambda repository: repository.escalation_overdue)


async def on_complaint_logged(conn: asyncpg.Connection, event: Envelope[contracts.ComplaintLogged]) -> None:
    await _record(conn, event, lambda repository: repository.complaint_logged)


async def on_complaint_resolved(conn: asyncpg.Connection, event: Envelope[contracts.ComplaintResolved]) -> None:
    await _record(conn, event, lambda repository: repository.complaint_resolved)


LEDGER_HANDLERS: Handlers = {
    contracts.AuditAllocated: on_audit_allocated,
    contracts.AuditReallocated: on_audit_reallocated,
    contracts.AuditCompleted: on_audit_completed,
    contracts.AuditOverdue: on_audit_overdue,
    contracts.PracticeConcernRaised: on_practice_concern_raised,
    contracts.EscalationRaised: on_escalation_raised,
    contracts.EscalationProgressed: on_escalation_progressed,
    contracts.EscalationResolved: on_escalation_resolved,
    contracts.EscalationOverdue: on_escalation_overdue,
    contracts.ComplaintLogged: on_complaint_logged,
    contracts.ComplaintResolved: on_complaint_resolved,
}
