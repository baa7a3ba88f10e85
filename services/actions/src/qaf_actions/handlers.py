"""Thin handlers: take an event and the connection of its transaction, apply it.

Two consumers: `actions` (theme-updated and action-milestone-updated → drift) and `actions.digest`
(audits, escalations, complaints and allocations → the work ledger behind the Board digest's overdue
figures). Both advance the event clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from qaf_shared import contracts
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import Handlers, PermanentFailure

from qaf_actions.adapters import repository
from qaf_actions.services import Context, plan_in_force, reevaluate


class DriftConsumer:
    """theme-updated and action-milestone-updated, one at a time or a batch at once.

    Each event is recorded in order (the latest value of each figure, each milestone) and the event clock
    advanced; then drift is evaluated once, if the batch changed something the plan watches or moved the
    clock's date. The batch commits as one transaction, so no state between two of its events is ever
    seen: drift-flagged / drift-cleared carry the net change, caused by the batch's last event that
    mattered. (At 100 audits a second reporting publishes ~2,000 theme-updated a second; evaluating the
    plan after each was most of this service's CPU.)
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def handlers(self) -> Handlers:
        return {contracts.ThemeUpdated: self.apply_one, contracts.ActionMilestoneUpdated: self.apply_one}

    async def apply_one(self, conn: asyncpg.Connection, event: Envelope[Any]) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: asyncpg.Connection, events: Sequence[Envelope[Any]]) -> None:
        if not events:
            return
        before = await self.ctx.clock.today(conn)
        _, plan = await plan_in_force(conn, self.ctx)
        figures = []
        cause: Envelope[Any] | None = None
        for event in events:
            p = event.payload
            if event.event_type == "theme-updated":
                figures.append((p, event.event_id, event.occurred_at))
                if repository.watches(plan, p):
                    cause = event
                continue
            area = plan.area(p.area_id)
            if area is None or area.action(p.action_id) is None:
                raise PermanentFailure(f"action {p.action_id!r} is not in area {p.area_id!r} of the action plan")
            await repository.record_milestone(
                conn, event_id=event.event_id, area_id=p.area_id, action_id=p.action_id, status=p.status,
                updated_by=p.updated_by, updated_on=p.updated_on, note=None, applied=True,
            )
            cause = event
        await repository.upsert_figures(conn, figures)
        times = sorted(event.occurred_at for event in events)
        for at in {times[0], times[-1]}:
            await repository.advance_clock(conn, at)
        if cause is not None or await self.ctx.clock.today(conn) != before:
            await reevaluate(conn, self.ctx, causation=cause or events[-1])


# -- the work ledger for the digest ---------------------------------------------------------------------


async def handle_audit_allocated(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    await conn.execute(
        """INSERT INTO ops_audits (audit_id, month, allocated_on, due_on) VALUES ($1, $2, $3, $4)
           ON CONFLICT (audit_id) DO UPDATE SET month = EXCLUDED.month, allocated_on = EXCLUDED.allocated_on,
                                                due_on = EXCLUDED.due_on""",
        p.audit_id, p.month, event.occurred_at.date(), p.due_on,
    )
    await repository.advance_clock(conn, event.occurred_at)


async def handle_audit_reallocated(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    await conn.execute(
        """INSERT INTO ops_audits (audit_id, due_on) VALUES ($1, $2)
           ON CONFLICT (audit_id) DO UPDATE SET due_on = EXCLUDED.due_on""",
        p.audit_id, p.due_on,
    )
    await repository.advance_clock(conn, event.occurred_at)


async def handle_audit_completed(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    await conn.execute(
        """INSERT INTO ops_audits (audit_id, month, completed_on) VALUES ($1, $2, $3)
           ON CONFLICT (audit_id) DO UPDATE SET completed_on = EXCLUDED.completed_on""",
        p.audit_id, p.month, p.completed_at.date(),
    )
    await repository.advance_clock(conn, event.occurred_at)


async def handle_audit_overdue(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    await conn.execute(
        """INSERT INTO ops_audits (audit_id, due_on, overdue_on) VALUES ($1, $2, $3)
           ON CONFLICT (audit_id) DO UPDATE SET overdue_on = EXCLUDED.overdue_on,
                                                due_on = coalesce(ops_audits.due_on, EXCLUDED.due_on)""",
        p.audit_id, p.due_on, event.occurred_at.date(),
    )
    await repository.advance_clock(conn, event.occurred_at)


async def handle_practice_concern(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    await conn.execute(
        """INSERT INTO ops_concerns (concern_id, service, reason, raised_on) VALUES ($1, $2, $3, $4)
           ON CONFLICT (concern_id) DO NOTHING""",
        p.concern_id, p.service.value, p.reason.value, p.raised_at.date(),
    )
    await repository.advance_clock(conn, event.occurred_at)


async def handle_escalation(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    if event.event_type == "escalation-raised":
        await conn.execute(
            """INSERT INTO ops_escalations (escalation_id, raised_on, due_on) VALUES ($1, $2, $3)
               ON CONFLICT (escalation_id) DO UPDATE SET raised_on = EXCLUDED.raised_on, due_on = EXCLUDED.due_on""",
            p.escalation_id, p.raised_on, p.due_on,
        )
    elif event.event_type == "escalation-progressed":
        await conn.execute(
            """INSERT INTO ops_escalations (escalation_id, due_on) VALUES ($1, $2)
               ON CONFLICT (escalation_id) DO UPDATE SET due_on = EXCLUDED.due_on, overdue_on = NULL""",
            p.escalation_id, p.due_on,
        )
    elif event.event_type == "escalation-resolved":
        await conn.execute(
            """INSERT INTO ops_escalations (escalation_id, resolved_on, within_timescale) VALUES ($1, $2, $3)
               ON CONFLICT (escalation_id) DO UPDATE SET resolved_on = EXCLUDED.resolved_on,
                                                         within_timescale = EXCLUDED.within_timescale""",
            p.escalation_id, p.resolved_on, p.within_timescale,
        )
    else:  # escalation-overdue
        await conn.execute(
            """INSERT INTO ops_escalations (escalation_id, due_on, overdue_on) VALUES ($1, $2, $3)
               ON CONFLICT (escalation_id) DO UPDATE SET overdue_on = EXCLUDED.overdue_on""",
            p.escalation_id, p.due_on, event.occurred_at.date(),
        )
    await repository.advance_clock(conn, event.occurred_at)


async def handle_complaint(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    p = event.payload
    if event.event_type == "complaint-logged":
        # a complaint moving to a further stage is logged again: it is open again, with the new due date
        await conn.execute(
            """INSERT INTO ops_complaints (complaint_id, category, received_on, due_on) VALUES ($1, $2, $3, $4)
               ON CONFLICT (complaint_id) DO UPDATE SET due_on = EXCLUDED.due_on, resolved_on = NULL,
                                                        within_timescale = NULL""",
            p.complaint_id, p.category.value, p.received_on, p.due_on,
        )
    else:
        await conn.execute(
            """INSERT INTO ops_complaints (complaint_id, category, resolved_on, within_timescale) VALUES ($1, $2, $3, $4)
               ON CONFLICT (complaint_id) DO UPDATE SET resolved_on = EXCLUDED.resolved_on,
                                                        within_timescale = EXCLUDED.within_timescale""",
            p.complaint_id, p.category.value, p.resolved_on, p.within_timescale,
        )
    await repository.advance_clock(conn, event.occurred_at)


LEDGER_HANDLERS: Handlers = {
    contracts.AuditAllocated: handle_audit_allocated,
    contracts.AuditReallocated: handle_audit_reallocated,
    contracts.AuditCompleted: handle_audit_completed,
    contracts.AuditOverdue: handle_audit_overdue,
    contracts.PracticeConcernRaised: handle_practice_concern,
    contracts.EscalationRaised: handle_escalation,
    contracts.EscalationProgressed: handle_escalation,
    contracts.EscalationResolved: handle_escalation,
    contracts.EscalationOverdue: handle_escalation,
    contracts.ComplaintLogged: handle_complaint,
    contracts.ComplaintResolved: handle_complaint,
}
