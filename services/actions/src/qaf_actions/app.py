"""Composition root of the actions service: settings, clock, renderer and mailer wired into the use
cases' context, and that context into the handlers, routes, scheduler and command line."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.clock import Clock, EventClock, WallClock
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_actions import handlers
from qaf_actions.adapters.mailer import SmtpMailer
from qaf_actions.adapters.render import DigestRenderer
from qaf_actions.adapters.repository import Repository
from qaf_actions.entrypoints.cli import extend
from qaf_actions.entrypoints.http import build_router
from qaf_actions.entrypoints.scheduler import digest_schedule
from qaf_actions.settings import ActionsSettings
from qaf_actions.usecases import Context

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class ActionsDefinition(ServiceDefinition):
    context: Context | None = None


def packaged_plan_text() -> str:
    return resources.files("qaf_actions.plan").joinpath("action_plan.yaml").read_text(encoding="utf-8")


def context(settings: ActionsSettings, clock: Clock | None = None) -> Context:
    """The use cases' context; `clock` overrides the one the settings name (tests, runs for a given date)."""
    text = settings.plan_file.read_text(encoding="utf-8") if settings.plan_file else packaged_plan_text()
    event_time = clock is None and settings.clock == "event"
    fixed = clock or WallClock()

    def clock_for(repository: Repository) -> Clock:
        # event time is read in the caller's transaction, so a batch sees the clock it has just advanced
        return EventClock(repository.latest_event_time) if event_time else fixed

    return Context(settings, text, clock_for, DigestRenderer(settings.digest_output_dir), SmtpMailer(settings),
                   event_time=event_time)


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    ctx: Context = runtime.definition.context  # type: ignore[attr-defined]
    drift = handlers.DriftConsumer(ctx)
    return [
        Subscription(
            consumer="actions",
            topics=(topics.THEMES, topics.ACTIONS),
            handlers=drift.handlers(),
            batch_handler=drift.apply_batch,
        ),
        Subscription(
            consumer="digest",
            topics=(topics.AUDITS, topics.ESCALATIONS, topics.COMPLAINTS, topics.ALLOCATIONS),
            handlers=handlers.LEDGER_HANDLERS,
        ),
    ]


def definition(settings: ActionsSettings | None = None, clock: Clock | None = None) -> ActionsDefinition:
    settings = settings or ActionsSettings()
    ctx = context(settings, clock)
    return ActionsDefinition(
        name="actions",
        title="QAF actions service",
        description="The 2013-14 action plan, drift against expected outcomes and the Board's alert digest.",
        settings=settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[build_router(ctx)],
        background=[digest_schedule(ctx)] if settings.schedule_enabled else [],
        context=ctx,
    )


def main() -> int:
    return service_main(definition, extend=extend)


__all__ = ["definition", "extend", "main"]
