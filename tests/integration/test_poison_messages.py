"""Poison on every input topic of every service: each kind lands in the dead-letter topic with its
reason, the valid message behind it is still processed, and the count shows on /metrics."""

from __future__ import annotations

import importlib

import orjson
import pytest

from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import REGISTRY, new_envelope
from qaf_shared.runtime import ServiceDefinition
from qaf_shared.settings import KafkaSettings
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.services import running

pytestmark = pytest.mark.integration

SERVICES = ["allocation", "audits", "escalations", "reporting", "actions"]
# The valid message sent after the poison: one that starts an entity, so no service refuses it
# for want of an earlier event.
FIRST_EVENTS = [
    "case-opened", "audit-allocated", "audit-completed", "escalation-raised", "complaint-logged",
    "theme-updated", "action-milestone-updated", "allocation-run-requested", "board-digest-issued",
]


def service_definition(name: str, database_url: str, kafka: KafkaSettings) -> ServiceDefinition:
    app = importlib.import_module(f"qaf_{name}.app")
    default = app.definition()
    settings = default.settings.model_copy(update={"database_url": database_url, "kafka": kafka})
    return app.definition(settings)


def poison_for(event_type: str) -> list[tuple[str, bytes]]:
    """(what it is, bytes) for each kind of poison, built from a valid envelope of `event_type`."""
    valid = new_envelope(EXAMPLES[event_type], source="poison-test").model_dump(mode="json")
    other_type = next(t for t in sorted(REGISTRY) if REGISTRY[t].TOPIC == REGISTRY[event_type].TOPIC and t != event_type) \
        if sum(REGISTRY[t].TOPIC == REGISTRY[event_type].TOPIC for t in REGISTRY) > 1 else None
    missing = {**valid, "payload": {k: v for k, v in list(valid["payload"].items())[1:]}}
    poisons = [
        ("invalid JSON", b'{"event_id": "1", '),
        ("wrong schema version", orjson.dumps({**valid, "schema_version": 99})),
        ("unknown field", orjson.dumps({**valid, "payload": {**valid["payload"], "family_name": "x"}})),
        ("missing field", orjson.dumps(missing)),
        ("1 MB payload", orjson.dumps({**valid, "payload": {**valid["payload"], "padding": "x" * 1_000_000}})),
    ]
    if other_type is not None:
        poisons.append(("payload of another event type", orjson.dumps({**valid, "event_type": other_type})))
    return poisons


@pytest.mark.parametrize("service", SERVICES)
async def test_poison_on_every_input_topic_is_dead_lettered_and_the_next_message_processed(
    service: str, database_url: str, kafka_settings: KafkaSettings
) -> None:
    definition = service_definition(service, database_url, kafka_settings)
    async with running(definition) as running_service:
        pool = running_service.runtime.pool
        subscriptions = definition.subscriptions(running_service.runtime)
        for subscription in subscriptions:
            for topic in subscription.topics:
                event_types = [t for t in FIRST_EVENTS if REGISTRY[t] in subscription.handlers and REGISTRY[t].TOPIC == topic]
                assert event_types, f"{service} subscribes to {topic.name} but handles none of its events"
                event_type = event_types[0]
                poisons = poison_for(event_type)
                valid = new_envelope(EXAMPLES[event_type], source="poison-test")
                key = valid.key
                await produce(kafka_settings, *((topic.name, body, key) for _, body in poisons), valid)
                await eventually(
                    lambda: pool.fetchval("SELECT count(*) = 1 FROM processed_events WHERE event_id = $1",
                                          valid.event_id),
                    timeout=60,
                )
                dead = await read_topic(kafka_settings, topic.dlq, expect=len(poisons))
                mine = [r for r in dead if dict(r.headers)["x-dlq-consumer"] == subscription.consumer.encode()]
                assert len(mine) == len(poisons), [dict(r.headers)["x-dlq-reason"] for r in mine]
                reasons = [dict(r.headers)["x-dlq-reason"].decode() for r in mine]
                assert all(reasons), "every dead letter says why"
        metrics = (await running_service.http.get("/metrics")).text
        assert "qaf_dead_lettered_total{" in metrics
