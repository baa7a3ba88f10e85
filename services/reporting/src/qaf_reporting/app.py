"""Composition root of the reporting service: wires settings, handlers, adapters and routes."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from weakref import WeakKeyDictionary

from qaf_shared import topics
from qaf_shared.cli import CommandRunner, service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_reporting import handlers
from qaf_reporting.adapters.dashboard import router as dashboard_router
from qaf_reporting.adapters.http import router
from qaf_reporting.adapters.publisher import FigurePublisher
from qaf_reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
CONSUMER = "reporting"
TOPICS = (topics.AUDITS, topics.ALLOCATIONS, topics.ESCALATIONS, topics.COMPLAINTS, topics.CASES)


# One per running service: the consumer sets it after each batch it applied, the publisher wakes on it.
_figures_changed: WeakKeyDictionary[ServiceRuntime, asyncio.Event] = WeakKeyDictionary()


def figures_changed(runtime: ServiceRuntime) -> asyncio.Event:
    return _figures_changed.setdefault(runtime, asyncio.Event())


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer=CONSUMER,
            topics=TOPICS,
            handlers={event_type: handlers.apply_event for event_type in handlers.HANDLED_EVENTS},
            batch_handler=handlers.apply_effects,
            prepare=handlers.prepare,
            on_handled=figures_changed(runtime).set,
        )
    ]


async def publish_figures(runtime: ServiceRuntime) -> None:
    """Background loop: coalesced theme-updated publication (see adapters/publisher.py)."""
    assert runtime.pool is not None
    settings = runtime.settings
    if not isinstance(settings, ReportingSettings):
        settings = ReportingSettings()
    await FigurePublisher(runtime.pool).run(
        runtime.stopping, settings.flush_interval_ms / 1000, wake=figures_changed(runtime),
        min_gap_s=settings.flush_min_gap_ms / 1000,
    )


def definition(settings: ReportingSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="reporting",
        title="QAF reporting service",
        description="Rolling theme counts, theme-updated, monthly and quarterly reports and the dashboard.",
        settings=settings or ReportingSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[router, dashboard_router],
        background=[publish_figures],
    )


def _replay(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    from qaf_reporting.adapters.replay import replay_from_zero

    stats = asyncio.run(replay_from_zero(definition, publish=not args.no_publish))
    print(json.dumps(stats.as_dict(), indent=2))
    return 0


def extend(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    replay = commands.add_parser(
        "replay",
        help="rebuild every figure from offset zero into an empty schema (stop the service first)",
        description="Empties the reporting tables, reads the consumed topics from offset zero up to their "
        "current end in batches, applies every event exactly once, commits the consumer group's offsets "
        "there (so `serve` resumes after the replay), then publishes, coalesced, the figures that differ "
        "from those last published (none after a faithful replay).",
    )
    replay.add_argument("--no-publish", action="store_true", help="do not publish now: the service publishes the rebuilt figures when it next starts")
    return {"replay": _replay}


def main() -> int:
    return service_main(definition, extend=extend)
