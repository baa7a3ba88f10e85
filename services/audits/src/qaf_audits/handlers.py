"""Thin handlers: take an event and the connection of its transaction, apply it.

The shared EventConsumer runs each in one transaction with the record of the event's id, so a
redelivered event changes nothing. Every consumed event also moves the event-time clock forward.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from qaf_shared.contracts.allocation import AuditAllocated, AuditReallocated
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import Handlers, PermanentFailure

from qaf_audits.adapters import repository
from qaf_audits.domain.audits import Audit, AuditStatus
from qaf_audits.service import ensure_packaged_templates

log = structlog.get_logger(__name__)


async def handle_audit_allocated(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    """A pending audit, pinned to the latest version of its template (if that template is loaded yet)."""
    allocated: AuditAllocated = event.payload
    await repository.advance_clock(conn, event.occurred_at)
    version = await repository.latest_version(conn, allocated.template_id)
    if version is None:
        await ensure_packaged_templates(conn)
        version = await repository.latest_version(conn, allocated.template_id)
    audit = Audit(
        audit_id=allocated.audit_id,
        case_id=allocated.case_id,
        service=allocated.service,
        team_id=allocated.team_id,
        auditor_id=allocated.auditor_id,
        lead_auditor_id=allocated.lead_auditor_id,
        team_manager_id=allocated.team_manager_id,
        month=allocated.month,
        due_on=allocated.due_on,
        template_id=allocated.template_id,
        template_version=version,
        allocated_at=event.occurred_at,
    )
    if await repository.insert_audit(conn, audit, origin="allocation", correlation_id=event.correlation_id):
        return
    existing = await repository.get_audit(conn, allocated.audit_id, for_update=True)
    if existing is not None and existing.status is AuditStatus.PENDING:
        await repository.update_pending_allocation(conn, audit)
        log.info("audit.allocation_refreshed", audit_id=allocated.audit_id)
    else:
        log.info("audit.allocation_ignored", audit_id=allocated.audit_id, reason="already completed")


async def handle_audit_reallocated(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    """Another auditor (and perhaps due date) for a pending audit."""
    moved: AuditReallocated = event.payload
    await repository.advance_clock(conn, event.occurred_at)
    audit = await repository.get_audit(conn, moved.audit_id, for_update=True)
    if audit is None:
        raise PermanentFailure(f"audit {moved.audit_id} was never allocated, so it cannot be reallocated")
    if audit.status is AuditStatus.COMPLETED:
        log.info("audit.reallocation_ignored", audit_id=moved.audit_id, reason="already completed")
        return
    await repository.reallocate(
        conn,
        moved.audit_id,
        previous_auditor_id=audit.auditor_id,
        auditor_id=moved.auditor_id,
        lead_auditor_id=moved.lead_auditor_id,
        due_on=moved.due_on,
        occurred_at=event.occurred_at,
    )


HANDLERS: Handlers = {
    AuditAllocated: handle_audit_allocated,
    AuditReallocated: handle_audit_reallocated,
}
