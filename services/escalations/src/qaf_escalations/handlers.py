"""Thin handlers for the case systems' events (qaf.cases): keep which cases exist, their service,
team and manager, and whether they are closed, so that an escalation or complaint about an unknown
or closed case can be refused. Each runs its use case in the consumer's transaction."""

from __future__ import annotations

import asyncpg

from qaf_shared.contracts import CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.envelope import Envelope
from qaf_shared.kafka import Handlers
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_escalations import usecases
from qaf_escalations.adapters.repository import Repository


def case_handlers(ctx: usecases.Context) -> Handlers:
    async def on_case_opened(conn: asyncpg.Connection, event: Envelope[CaseOpened]) -> None:
        uow = PostgresUnitOfWork.joined(conn, Repository)
        await usecases.record_case_opened(uow, ctx, event.payload, event.occurred_at)

    async def on_case_updated(conn: asyncpg.Connection, event: Envelope[CaseUpdated]) -> None:
        uow = PostgresUnitOfWork.joined(conn, Repository)
        await usecases.record_case_updated(uow, ctx, event.payload, event.occurred_at)

    async def on_case_closed(conn: asyncpg.Connection, event: Envelope[CaseClosed]) -> None:
        uow = PostgresUnitOfWork.joined(conn, Repository)
        await usecases.record_case_closed(uow, ctx, event.payload, event.occurred_at)

    return {
        CaseOpened: on_case_opened,
        CaseUpdated: on_case_updated,
        CaseClosed: on_case_closed,
    }
