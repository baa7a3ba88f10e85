"""Composition root of the allocation service: wires settings, handlers, adapters and routes."""

from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_allocation import handlers
from qaf_allocation.settings import AllocationSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer="allocation",
            topics=(topics.CASES,),
            handlers={event_type: handlers.record_event for event_type in handlers.HANDLED_EVENTS},
        )
    ]


def definition(settings: AllocationSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="allocation",
        title="QAF allocation service",
        description="Keeps the open-case population and the auditor roster; draws the monthly audit sample.",
        settings=settings or AllocationSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[],
    )


def main() -> int:
    return service_main(definition)
