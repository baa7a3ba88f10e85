"""Composition root of the reporting service: wires settings, handlers, adapters and routes."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from qaf_shared import topics
from qaf_shared.cli import CommandRunner, service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_reporting import handlers
from qaf_reporting.adapters.dashboard import router as dashboard_router
from qaf_reporting.adapters.http import router
from qaf_reporting.adapters.publisher import FigurePublisher
from qaf_reporting.settings import ReportingSettings

if TYPE_CHECKING:  # replay's module is imported only when the command runs
    from qaf_reporting.adapters.replay import MissingOffsets

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
            handlers={payload: handlers.apply_event for payload in handlers.HANDLED_EVENTS},
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


# `replay` exits with this when the input topics no longer start at offset 0 (as the CLI's other refusals)
TRUNCATED_HISTORY_EXIT = 2


def _listed(gaps: list[MissingOffsets]) -> str:
    return "".join(f"\n  {gap.describe()}" for gap in gaps)


def _replay(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    from qaf_reporting.adapters.replay import TruncatedHistory, replay_from_zero

    try:
        stats = asyncio.run(replay_from_zero(
            definition, publish=not args.no_publish, accept_truncated_history=args.accept_truncated_history))
    except TruncatedHistory as refused:
        print(f"error: refusing to replay: the broker no longer holds the first events of {len(refused.missing)} "
              f"input partition(s), so the rebuilt figures would silently leave them out:{_listed(refused.missing)}\n"
              "Nothing was changed. To rebuild from what is left, run again with --accept-truncated-history.",
              file=sys.stderr)
        return TRUNCATED_HISTORY_EXIT
    if stats.missing:
        print(f"warning: replayed without the first events of {len(stats.missing)} input partition(s) "
              f"(--accept-truncated-history); the figures leave them out:{_listed(stats.missing)}", file=sys.stderr)
    print(json.dumps(stats.as_dict(), indent=2))
    return 0


def extend(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    replay = commands.add_parser(
        "replay",
        help="rebuild every figure from offset zero into an empty schema (stop the service first)",
        description="Empties the reporting tables, reads the consumed topics from offset zero up to their "
        "current end in batches, applies every event exactly once, commits the consumer group's offsets "
        "there (so `serve` resumes after the replay), then publishes, coalesced, the figures that differ "
        "from those last published (none after a faithful replay). It refuses (exit code 2, nothing changed) "
        "when an input partition no longer starts at offset 0, unless --accept-truncated-history is given.",
    )
    replay.add_argument("--no-publish", action="store_true", help="do not publish now: the service publishes the rebuilt figures when it next starts")
    replay.add_argument(
        "--accept-truncated-history", action="store_true",
        help="replay even when an input partition no longer starts at offset 0 (the broker deleted its first "
        "events); without it such a replay is refused, exit code 2, and nothing is changed",
    )
    return {"replay": _replay}


def main() -> int:
    return service_main(definition, extend=extend)
