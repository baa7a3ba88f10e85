"""Thin handlers: take an event and the connection of its transaction, run its use case there.

The shared EventConsumer runs each in one transaction with the record of the event's id, so a
redelivered event changes nothing. Every consumed event also moves the event-time clock forward.
"""

from __future__ import annotations

import asyncpg

from qaf_shared.contracts.allocation import AuditAllocated, AuditReallocated
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import Handlers
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_audits import usecases
from qaf_audits.adapters.repository import Repository


async def on_audit_allocated(conn: asyncpg.Connection, event: Envelope[AuditAllocated]) -> None:
    await usecases.record_allocation(
        PostgresUnitOfWork.joined(conn, Repository),
        event.payload,
        occurred_at=event.occurred_at,
        correlation_id=event.correlation_id,
    )


async def on_audit_reallocated(conn: asyncpg.Connection, event: Envelope[AuditReallocated]) -> None:
    # an audit never allocated is refused (NotFound): retrying cannot make it appear, so it is dead-lettered
    await usecases.record_reallocation(
        PostgresUnitOfWork.joined(conn, Repository), event.payload, occurred_at=event.occurred_at
    )


HANDLERS: Handlers = {
    AuditAllocated: on_audit_allocated,
    AuditReallocated: on_audit_reallocated,
}
