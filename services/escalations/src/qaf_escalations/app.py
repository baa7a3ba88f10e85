"""Composition root of the escalations service: wires settings, clock, calendar, handlers, the HTTP
router, the overdue sweep (background loop and CLI) into a `ServiceDefinition`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import date
from pathlib import Path

import structlog

from qaf_shared import topics
from qaf_shared.cli import CommandRunner, service_main
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_escalations import handlers
from qaf_escalations import service_layer as sl
from qaf_escalations.adapters.http import build_router
from qaf_escalations.domain.calendar import WorkingCalendar
from qaf_escalations.domain.clock import Clock, FixedClock, SystemClock
from qaf_escalations.domain.errors import DomainError
from qaf_escalations.settings import EscalationsSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


def make_context(settings: EscalationsSettings, clock: Clock | None = None) -> sl.Context:
    if clock is None:
        clock = FixedClock(settings.today) if settings.today else SystemClock()
    return sl.Context(
        calendar=WorkingCalendar(),
        clock=clock,
        escalation_timescales=settings.escalation_timescales(),
        complaint_timescales=settings.complaint_timescales(),
    )


def overdue_sweeper(ctx: sl.Context, settings: EscalationsSettings):  # type: ignore[no-untyped-def]
    """The background loop: every few seconds, report overdue stages as of the sweep's date.

    Restart-safe: what was reported is recorded with the event in one transaction, so a restarted
    service carries on without reporting any stage twice."""

    async def sweep_overdue_escalations(runtime: ServiceRuntime) -> None:
        assert runtime.pool is not None
        while not runtime.stopping.is_set():
            as_of = await sl.background_as_of(runtime.pool, ctx, settings.overdue_sweep_basis)
            if as_of is not None:
                await sl.sweep_overdue(runtime.pool, ctx, as_of)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(runtime.stopping.wait(), timeout=settings.overdue_sweep_interval_s)

    return sweep_overdue_escalations


def definition(settings: EscalationsSettings | None = None, *, clock: Clock | None = None) -> ServiceDefinition:
    settings = settings or EscalationsSettings()
    ctx = make_context(settings, clock)

    def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
        return [
            Subscription(consumer="escalations", topics=(topics.CASES,), handlers=handlers.case_handlers(ctx.clock))
        ]

    return ServiceDefinition(
        name="escalations",
        title="QAF escalations service",
        description="CPA/IRO escalations and the complaints desk, on working-day timescales.",
        settings=settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[build_router(ctx)],
        background=[overdue_sweeper(ctx, settings)],
    )


async def _sweep(definition_: ServiceDefinition, as_of: date) -> list[sl.OverdueReported]:
    settings = definition_.settings
    assert isinstance(settings, EscalationsSettings)
    url = await migrate_service(
        settings.database_url, definition_.name, settings.db_role_password.get_secret_value(), MIGRATIONS
    )
    pool = await connect_pool(url, definition_.name)
    try:
        return await sl.sweep_overdue(pool, make_context(settings), as_of)
    finally:
        await pool.close()


def run_sweep(definition_: ServiceDefinition, args: argparse.Namespace) -> int:
    """`qaf-escalations sweep-overdue --as-of YYYY-MM-DD`: the events go out with the service's outbox relay."""
    try:
        reported = asyncio.run(_sweep(definition_, args.as_of))
    except DomainError as exc:
        raise ValueError(exc.message) from None
    for item in reported:
        print(f"{item.escalation_id}  {item.stage:<16} due {item.due_on.isoformat()}  overdue")
    print(f"{len(reported)} stage(s) reported overdue as of {args.as_of.isoformat()}")
    return 0


def extend_cli(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    sweep = commands.add_parser(
        "sweep-overdue", help="report escalations whose stage's due date passed unanswered, as of a date"
    )
    sweep.add_argument("--as-of", required=True, type=date.fromisoformat, help="event date, YYYY-MM-DD")
    return {"sweep-overdue": run_sweep}


def main() -> int:
    return service_main(definition, extend=extend_cli)
