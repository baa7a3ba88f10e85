"""Produce case events straight to Kafka, as a case system with its own producer would.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python examples/publish_kafka.py --service children-in-care C-30001 C-30002

The rules of the topic `qaf.cases` (see docs/asyncapi.json):
- value: the JSON envelope, UTF-8; the payload meets its contract (unknown fields are refused);
- key: the `case_id`, so one case's events stay in order on one partition;
- producer: acks=all and idempotence, so an acknowledged event is on every in-sync replica, once;
- headers: optional, the platform does not need them (here: content type and correlation id,
  for tracing tools).
A message that breaks its contract does not block the topic: the consumers put it on
`qaf.cases.dlq` with the reason in the `x-dlq-reason` header.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from kafka_options import client_options, topic


def case_opened(case_id: str, service: str, correlation_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "case-opened",
        "schema_version": 1,
        "occurred_at": now.isoformat(),
        "recorded_at": now.isoformat(),
        "source": "case-system",
        "correlation_id": correlation_id,
        "causation_id": None,
        "payload": {
            "case_id": case_id,
            "service": service,
            "team_id": "T-07",
            "worker_id": "W-0701",
            "team_manager_id": "M-0070",
            "legal_status": "looked-after",
            "opened_on": now.date().isoformat(),
        },
    }


async def publish(service: str, case_ids: list[str]) -> list[dict[str, Any]]:
    producer = AIOKafkaProducer(**client_options(), acks="all", enable_idempotence=True)
    await producer.start()
    sent = []
    try:
        correlation_id = str(uuid.uuid4())
        for case_id in case_ids:
            event = case_opened(case_id, service, correlation_id)
            metadata = await producer.send_and_wait(
                topic("qaf.cases"),
                value=json.dumps(event).encode(),
                key=case_id.encode(),
                headers=[("content-type", b"application/json"), ("correlation-id", correlation_id.encode())],
            )
            sent.append({"event_id": event["event_id"], "partition": metadata.partition, "offset": metadata.offset})
    finally:
        await producer.stop()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_ids", nargs="+", help="opaque case ids, e.g. C-30001")
    parser.add_argument("--service", default="children-in-care", help="the service the cases belong to")
    args = parser.parse_args()
    for line in asyncio.run(publish(args.service, args.case_ids)):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
