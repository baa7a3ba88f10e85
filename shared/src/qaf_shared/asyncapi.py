"""The AsyncAPI 3.0 document of the whole catalogue, generated from the contracts in code.

`python -m qaf_shared.asyncapi` prints it; `docs/asyncapi.json` is the committed copy, and a test
fails when the two disagree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from qaf_shared import contracts  # noqa: F401  (registers every contract)
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import REGISTRY, envelope_type, new_envelope
from qaf_shared.topics import CATALOGUE

PRODUCERS: dict[str, str] = {
    "case-opened": "case systems",
    "case-updated": "case systems",
    "case-closed": "case systems",
    "allocation-run-requested": "allocation (API, schedule) or an operator",
    "audit-allocated": "allocation",
    "audit-reallocated": "allocation",
    "audit-completed": "audits",
    "practice-concern-raised": "audits",
    "audit-overdue": "audits",
    "escalation-raised": "escalations",
    "escalation-progressed": "escalations",
    "escalation-resolved": "escalations",
    "escalation-overdue": "escalations",
    "complaint-logged": "escalations (complaints desk)",
    "complaint-resolved": "escalations (complaints desk)",
    "theme-updated": "reporting",
    "action-milestone-updated": "actions (owners' API)",
    "drift-flagged": "actions",
    "drift-cleared": "actions",
    "board-digest-issued": "actions",
}

_EXAMPLE_TIME = datetime(2013, 10, 1, 9, 0, tzinfo=UTC)


def _example_source(event_type: str) -> str:
    producer = PRODUCERS[event_type]
    return "case-system" if producer == "case systems" else producer.split(" ")[0]


def _message_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.split("-"))


def build() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in CATALOGUE:
        event_types = sorted(t for t, cls in REGISTRY.items() if cls.TOPIC == topic)
        channel_id = topic.name.replace(".", "-")
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description} Keyed by `{topic.key}`; {topic.partitions} partitions. "
            f"Messages that cannot be processed go to `{topic.dlq}` with the reason in the "
            "`x-dlq-reason` header.",
            "messages": {_message_name(t): {"$ref": f"#/components/messages/{_message_name(t)}"} for t in event_types},
        }
        operations[f"publish-{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": "Producers: " + ", ".join(sorted({PRODUCERS[t] for t in event_types})),
        }
        for event_type in event_types:
            cls = REGISTRY[event_type]
            name = _message_name(event_type)
            schema = envelope_type(cls).model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[f"{name}Envelope"] = schema
            example = new_envelope(
                EXAMPLES[event_type],
                source=_example_source(event_type),
                occurred_at=_EXAMPLE_TIME,
                correlation_id=UUID(int=1),
                event_id=uuid5(NAMESPACE_URL, f"qaf:example:{event_type}"),
            ).model_dump(mode="json")
            example["recorded_at"] = _EXAMPLE_TIME.isoformat().replace("+00:00", "Z")
            messages[name] = {
                "name": event_type,
                "title": event_type,
                "summary": (cls.__doc__ or event_type).strip().splitlines()[0],
                "contentType": "application/json",
                "headers": {"type": "object", "properties": {"event_type": {"type": "string", "const": event_type}}},
                "payload": {"$ref": f"#/components/schemas/{name}Envelope"},
                "x-schema-version": cls.SCHEMA_VERSION,
                "x-key": topic.key,
                "examples": [{"name": f"{event_type}-example", "payload": example}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "QAF platform events",
            "version": "1.0.0",
            "description": (
                "Every event of the Children and Families Quality Assurance Framework platform. Each message is "
                "one JSON envelope (event_id, event_type, schema_version, occurred_at, recorded_at, source, "
                "correlation_id, causation_id, payload), keyed by the entity it concerns. Contracts refuse "
                "unknown fields and carry opaque identifiers only, never names."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "qaf-devstack's broker"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
