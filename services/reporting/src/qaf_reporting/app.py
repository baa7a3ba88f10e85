"""Composition root of the reporting service: wires settings, handlers, adapters and routes."""

from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_reporting import handlers
from qaf_reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer="reporting",
            topics=(topics.AUDITS, topics.ESCALATIONS, topics.COMPLAINTS, topics.CASES,),
            handlers={event_type: handlers.record_event for event_type in handlers.HANDLED_EVENTS},
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
        routers=[],
    )


def main() -> int:
    return service_main(definition)
