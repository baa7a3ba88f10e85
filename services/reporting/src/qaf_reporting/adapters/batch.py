"""The batch path: many records applied in one transaction, with the shared consumer's guarantees.

Used by `replay` (and the benchmark). For a batch of records:
- each is decoded against its contract; one that cannot be (or that reporting rejects) goes to the
  dead-letter topic exactly as the shared EventConsumer does it;
- in one transaction, every event id is inserted into processed_events (ON CONFLICT DO NOTHING), and
  only the events inserted for the first time are applied — in the same transaction, so a batch is
  applied wholly once or not at all;
- a passing failure (database or broker unreachable) retries the whole batch after a pause; any other
  failure of the batch falls back to one transaction per event, where a database refusal
  dead-letters that event only, like the shared consumer.
The caller commits Kafka offsets only after `apply_records` returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord

from qaf_shared.envelope import REGISTRY, ContractViolation, Envelope, decode
from qaf_shared.kafka import EventConsumer
from qaf_shared.kafka.consumer import TRANSIENT_ERRORS
from qaf_shared.metrics import EVENTS_HANDLED
from qaf_shared.topics import logical_name

from qaf_reporting.adapters import repository
from qaf_reporting.domain.effects import RULES, Effects, RejectedEvent, effects_of

log = structlog.get_logger(__name__)


_ENVELOPES: dict[str, type[Envelope[Any]]] = {}


def fast_decode(raw: bytes, expected_topic: str) -> Envelope[Any]:
    """`qaf_shared.envelope.decode`, with the parametrised envelope type looked up once per event type.

    Resolving `Envelope[PayloadClass]` on every call is most of the shared decode's cost; this does the
    same checks (known type, schema version, topic, contract) and, for any message it cannot accept,
    defers to the shared `decode` so the reason given is the shared one, word for word.
    """
    try:
        data = orjson.loads(raw)
        event_type = data["event_type"]
        payload_cls = REGISTRY[event_type]
        if data.get("schema_version") == payload_cls.SCHEMA_VERSION and payload_cls.TOPIC.name == expected_topic:
            envelope_type = _ENVELOPES.get(event_type)
            if envelope_type is None:
                envelope_type = _ENVELOPES[event_type] = Envelope[payload_cls]  # type: ignore[valid-type]
            return envelope_type.model_validate(data)
    except Exception:  # noqa: BLE001 - any doubt: the shared decoder decides, and says why
        pass
    return decode(raw, expected_topic=expected_topic)


@dataclass
class BatchStats:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    retries: int = 0

    def add(self, other: BatchStats) -> None:
        for name in ("records", "applied", "duplicates", "ignored", "dead_lettered", "retries"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class BatchApplier:
    consumer: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topic_prefix: str = ""
    retry_backoff_s: float = 1.0
    _dead: EventConsumer | None = field(default=None, init=False)

    def _dead_letters(self) -> EventConsumer:
        # The shared consumer's dead-lettering (topic, headers, dead_letters row), reused as is.
        if self._dead is None:
            self._dead = EventConsumer(
                name=self.consumer, pool=self.pool, producer=self.producer, handlers={},
                topic_prefix=self.topic_prefix,
            )
        return self._dead

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        await self._dead_letters()._dead_letter(record, reason)

    async def apply_records(self, records: Sequence[ConsumerRecord]) -> BatchStats:
        stats = BatchStats(records=len(records))
        good: list[tuple[ConsumerRecord, Envelope[Any], Effects]] = []
        for record in records:
            try:
                envelope = fast_decode(record.value, logical_name(record.topic, self.topic_prefix))
            except ContractViolation as exc:
                await self._dead_letter(record, str(exc))
                stats.dead_lettered += 1
                continue
            if envelope.event_type not in RULES:
                stats.ignored += 1
                continue
            try:
                effects = effects_of(envelope)
            except RejectedEvent as exc:
                await self._dead_letter(record, str(exc))
                stats.dead_lettered += 1
                continue
            good.append((record, envelope, effects))
        dead = 0
        while True:
            try:
                applied = await self._apply_together(good)
                break
            except TRANSIENT_ERRORS as exc:
                stats.retries += 1
                log.warning("reporting.batch_transient_failure", error=type(exc).__name__, records=len(good))
                await asyncio.sleep(self.retry_backoff_s)
            except Exception:
                log.exception("reporting.batch_failed_applying_one_by_one", records=len(good))
                applied, dead = await self._apply_one_by_one(good)
                stats.dead_lettered += dead
                break
        stats.applied += applied
        stats.duplicates += len(good) - applied - dead
        if good:
            EVENTS_HANDLED.labels(self.consumer, "batch", "applied").inc(applied)
        return stats

    async def _record_processed(
        self, conn: asyncpg.Connection, good: Sequence[tuple[ConsumerRecord, Envelope[Any], Effects]]
    ) -> set[Any]:
        rows = await conn.fetch(
            """
            INSERT INTO processed_events (consumer, event_id, event_type, topic, partition, "offset")
            SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[])
            ON CONFLICT (consumer, event_id) DO NOTHING
            RETURNING event_id
            """,
            self.consumer,
            [e.event_id for _, e, _ in good],
            [e.event_type for _, e, _ in good],
            [r.topic for r, _, _ in good],
            [r.partition for r, _, _ in good],
            [r.offset for r, _, _ in good],
        )
        return {row["event_id"] for row in rows}

    async def _apply_together(self, good: Sequence[tuple[ConsumerRecord, Envelope[Any], Effects]]) -> int:
        if not good:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await self._record_processed(conn, good)
            batch = []
            for _, envelope, effects in good:
                if envelope.event_id in fresh:
                    fresh.discard(envelope.event_id)  # the same event twice in one batch applies once
                    batch.append(effects)
            await repository.apply(conn, batch)
            return len(batch)

    async def _apply_one_by_one(
        self, good: Sequence[tuple[ConsumerRecord, Envelope[Any], Effects]]
    ) -> tuple[int, int]:
        applied = dead = 0
        for item in good:
            try:
                applied += await self._apply_together([item])
            except TRANSIENT_ERRORS:
                raise
            except asyncpg.PostgresError as exc:
                await self._dead_letter(item[0], f"database refused the change: {exc}")
                dead += 1
            except Exception as exc:
                log.exception("reporting.event_failed")
                await self._dead_letter(item[0], f"handler failed: {type(exc).__name__}: {exc}")
                dead += 1
        return applied, dead
