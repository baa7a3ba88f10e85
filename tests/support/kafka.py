"""Small real-Kafka helpers for tests: produce envelopes or raw bytes, read a topic back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from qaf_shared.envelope import Envelope
from qaf_shared.kafka import client_options, make_producer
from qaf_shared.settings import KafkaSettings


async def produce(settings: KafkaSettings, *messages: Envelope[Any] | tuple[str, bytes, bytes | None]) -> None:
    """Publish envelopes (to their catalogue topic) or raw (topic, value, key) tuples, acks=all."""
    producer = make_producer(settings)
    await producer.start()
    try:
        for message in messages:
            if isinstance(message, Envelope):
                await producer.send_and_wait(
                    settings.topic_prefix + message.topic.name, message.to_bytes(), key=message.key
                )
            else:
                topic, value, key = message
                await producer.send_and_wait(settings.topic_prefix + topic, value, key=key)
    finally:
        await producer.stop()


async def read_topic(
    settings: KafkaSettings, topic: str, *, expect: int, timeout: float = 30.0
) -> list[ConsumerRecord]:
    """Read `topic` from the beginning until `expect` records arrived (or time runs out)."""
    consumer = AIOKafkaConsumer(
        settings.topic_prefix + topic,
        **client_options(settings),
        group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
        return records
    finally:
        await consumer.stop()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic named with `prefix` (a test's own), keeping one broker quick for the session."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
