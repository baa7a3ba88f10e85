"""Composition root of the escalations service: wires settings, clock, calendar, handlers, the HTTP
router, the overdue sweep (background loop and CLI) into a `ServiceDefinition`."""

from __future__ import annotations

from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.clock import Clock
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_escalations import handlers, usecases
from qaf_escalations.entrypoints import cli
from qaf_escalations.entrypoints.http import build_router
from qaf_escalations.entrypoints.scheduler import overdue_sweeper
from qaf_escalations.settings import EscalationsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def definition(settings: EscalationsSettings | None = None, *, clock: Clock | None = None) -> ServiceDefinition:
    settings = settings or EscalationsSettings()
    ctx = usecases.Context.from_settings(settings, clock)

    def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
        return [Subscription(consumer="escalations", topics=(topics.CASES,), handlers=handlers.case_handlers(ctx))]

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


def main() -> int:
    return service_main(definition, extend=cli.extend)
