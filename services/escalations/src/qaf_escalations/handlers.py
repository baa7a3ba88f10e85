"""Thin handlers for the case systems' events (qaf.cases): keep which cases exist, their service,
team and manager, and whether they are closed, so that an escalation or complaint about an unknown
or closed case can be refused. The latest state by event time wins."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from qaf_shared.contracts import CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import Handlers, PermanentFailure

from qaf_escalations.adapters.repository import Repository
from qaf_escalations.domain.clock import Clock


def case_handlers(clock: Clock) -> Handlers:
    def not_in_future(event: Envelope[Any], field: str, value: date) -> None:
        today = clock.today()
        if value > today:
            raise PermanentFailure(
                f"{event.event_type} for case {event.payload.case_id}: {field} {value.isoformat()} is in the "
                f"future (the escalations service's today is {today.isoformat()})"
            )

    async def advance(repo: Repository, event: Envelope[Any]) -> None:
        await repo.advance_event_clock(min(event.occurred_at.date(), clock.today()))

    async def handle_case_opened(conn: asyncpg.Connection, event: Envelope[CaseOpened]) -> None:
        p = event.payload
        not_in_future(event, "opened_on", p.opened_on)
        repo = Repository(conn)
        await repo.upsert_case_state(
            case_id=p.case_id, service=p.service.value, team_id=p.team_id, team_manager_id=p.team_manager_id,
            opened_on=p.opened_on, at=event.occurred_at, reopens=True,
        )
        await advance(repo, event)

    async def handle_case_updated(conn: asyncpg.Connection, event: Envelope[CaseUpdated]) -> None:
        p = event.payload
        repo = Repository(conn)
        await repo.upsert_case_state(
            case_id=p.case_id, service=p.service.value, team_id=p.team_id, team_manager_id=p.team_manager_id,
            opened_on=None, at=event.occurred_at, reopens=False,
        )
        await advance(repo, event)

    async def handle_case_closed(conn: asyncpg.Connection, event: Envelope[CaseClosed]) -> None:
        p = event.payload
        not_in_future(event, "closed_on", p.closed_on)
        repo = Repository(conn)
        await repo.close_case(case_id=p.case_id, closed_on=p.closed_on, at=event.occurred_at)
        await advance(repo, event)

    return {
        CaseOpened: handle_case_opened,
        CaseUpdated: handle_case_updated,
        CaseClosed: handle_case_closed,
    }
