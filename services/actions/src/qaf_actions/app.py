"""Composition root of the actions service: wires settings, handlers, adapters and routes."""

from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_actions import handlers
from qaf_actions.settings import ActionsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer="actions",
            topics=(topics.THEMES,),
            handlers={event_type: handlers.record_event for event_type in handlers.HANDLED_EVENTS},
        )
    ]


def definition(settings: ActionsSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="actions",
        title="QAF actions service",
        description="The 2013-14 action plan, drift against expected outcomes and the Board's alert digest.",
        settings=settings or ActionsSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[],
    )


def main() -> int:
    return service_main(definition)
