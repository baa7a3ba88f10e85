"""Composition root of the audits service: settings, clocks and adapters wired into a ServiceDefinition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.clock import Clock, WallClock, clock_named
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_audits import handlers, usecases
from qaf_audits.entrypoints import cli, scheduler
from qaf_audits.entrypoints.http import build_router
from qaf_audits.settings import AuditsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [Subscription(consumer="audits", topics=(topics.ALLOCATIONS,), handlers=handlers.HANDLERS)]


def sweep_clock(settings: AuditsSettings) -> Callable[[ServiceRuntime], Clock]:
    """The clock `settings.clock` names; event time is read from the running service's database."""

    def of(runtime: ServiceRuntime) -> Clock:
        return clock_named(settings.clock, lambda: usecases.event_time(scheduler.units(runtime)))

    return of


def definition(settings: AuditsSettings | None = None, *, clock: Clock | None = None) -> ServiceDefinition:
    """The audits service. `clock` overrides `settings.clock` for the background overdue sweep."""
    settings = settings or AuditsSettings()
    ctx = usecases.Context(settings=settings, clock=WallClock())
    return ServiceDefinition(
        name="audits",
        title="QAF audits service",
        description="Audit templates, completed audits, practice concerns, overdue audits and moderation.",
        settings=settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[build_router(ctx)],
        background=[
            scheduler.load_packaged_templates,
            scheduler.overdue_sweeper(
                (lambda _: clock) if clock is not None else sweep_clock(settings), settings.overdue_sweep_interval_s
            ),
        ],
    )


def main() -> int:
    return service_main(definition, extend=cli.extend)
