"""Composition root of the escalations service: wires settings, handlers, adapters and routes."""

from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_escalations import handlers
from qaf_escalations.settings import EscalationsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer="escalations",
            topics=(topics.CASES,),
            handlers={event_type: handlers.record_event for event_type in handlers.HANDLED_EVENTS},
        )
    ]


def definition(settings: EscalationsSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="escalations",
        title="QAF escalations service",
        description="CPA/IRO escalations and the complaints desk, on working-day timescales.",
        settings=settings or EscalationsSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[],
    )


def main() -> int:
    return service_main(definition)
