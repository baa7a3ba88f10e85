"""Composition root of the audits service: wires settings, handlers, adapters and routes."""

from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_audits import handlers
from qaf_audits.settings import AuditsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer="audits",
            topics=(topics.ALLOCATIONS,),
            handlers={event_type: handlers.record_event for event_type in handlers.HANDLED_EVENTS},
        )
    ]


def definition(settings: AuditsSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="audits",
        title="QAF audits service",
        description="Audit templates, completed audits, practice concerns, overdue audits and moderation.",
        settings=settings or AuditsSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[],
    )


def main() -> int:
    return service_main(definition)
