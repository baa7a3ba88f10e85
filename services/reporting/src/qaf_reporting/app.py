"""Composition root of the reporting service: wires settings, handlers, routes and the publisher's loop."""

from __future__ import annotations

from pathlib import Path

from qaf_shared.cli import service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_reporting import handlers
from qaf_reporting.entrypoints.cli import extend
from qaf_reporting.entrypoints.http import build_router
from qaf_reporting.entrypoints.scheduler import figures_changed, publish_figures
from qaf_reporting.handlers import CONSUMER, TOPICS
from qaf_reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"


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


def definition(settings: ReportingSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="reporting",
        title="QAF reporting service",
        description="Rolling theme counts, theme-updated, monthly and quarterly reports and the dashboard.",
        settings=settings or ReportingSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[build_router()],
        background=[publish_figures],
    )


def main() -> int:
    return service_main(definition, extend=extend)
