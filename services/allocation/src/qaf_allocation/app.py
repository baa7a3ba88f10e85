"""Composition root of the allocation service: wires settings, handlers, adapters and routes."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import asyncpg

from qaf_shared import contracts, topics
from qaf_shared.cli import service_main
from qaf_shared.clock import Clock, WallClock
from qaf_shared.envelope import Envelope
from qaf_shared.http import intake_router
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_allocation import handlers
from qaf_allocation.adapters.repository import Repository
from qaf_allocation.entrypoints.cli import extend
from qaf_allocation.entrypoints.http import build_router
from qaf_allocation.entrypoints.scheduler import monthly_scheduler
from qaf_allocation.settings import AllocationSettings
from qaf_allocation.usecases import Context

MIGRATIONS = Path(__file__).parent / "migrations"


async def case_service(conn: asyncpg.Connection, event: Envelope[Any]) -> str | None:
    """The service holding a case, for intake events that name none (case-closed)."""
    return await Repository(conn).case_service(event.payload.partition_key())


def definition(settings: AllocationSettings | None = None, *, clock: Clock | None = None) -> ServiceDefinition:
    ctx = Context(settings or AllocationSettings(), clock or WallClock())

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
