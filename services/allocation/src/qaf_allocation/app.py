"""Composition root of the allocation service: wires settings, handlers, adapters and routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from datetime import date
from pathlib import Path

import asyncpg

from qaf_shared import contracts, topics
from qaf_shared.envelope import Envelope
from qaf_shared.cli import service_main
from qaf_shared.http import intake_router
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_allocation import handlers
from qaf_allocation.adapters.cli import extend
from qaf_allocation.adapters.http import build_router
from qaf_allocation.adapters.scheduler import monthly_scheduler
from qaf_allocation.application import Context, today_utc
from qaf_allocation.settings import AllocationSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def case_service(conn: asyncpg.Connection, event: Envelope[Any]) -> str | None:
    """The service holding a case, for intake events that name none (case-closed)."""
    return await conn.fetchval("SELECT service FROM cases WHERE case_id = $1", event.payload.partition_key())


def definition(settings: AllocationSettings | None = None, *,
               clock: Callable[[], date] = today_utc) -> ServiceDefinition:
    ctx = Context(settings or AllocationSettings(), clock)

    def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
        return [
            Subscription(
                consumer="allocation",
                topics=(topics.CASES, topics.ALLOCATION_COMMANDS, topics.AUDITS),
                handlers={
                    contracts.CaseOpened: handlers.handle_case_opened,
                    contracts.CaseUpdated: handlers.handle_case_updated,
                    contracts.CaseClosed: handlers.handle_case_closed,
                    contracts.AuditCompleted: handlers.handle_audit_completed,
                    contracts.AllocationRunRequested: functools.partial(handlers.handle_run_requested, ctx=ctx),
                },
            )
        ]

    return ServiceDefinition(
        name="allocation",
        title="QAF allocation service",
        description="Keeps the open-case population and the auditor roster; draws the monthly audit sample.",
        settings=ctx.settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        # The case systems' HTTP intake lives with the case population it feeds.
        routers=[
            build_router(ctx),
            intake_router(["case-opened", "case-updated", "case-closed"], owner_of=case_service),
        ],
        background=[monthly_scheduler(ctx)],
    )


def main() -> int:
    return service_main(definition, extend=extend)
