"""The idempotent consumer: decode, apply once in one transaction, then commit the offset.

For each message:
- it is decoded against its contract; a message that cannot be decoded goes to `<topic>.dlq`
  with the reason in headers, its offset is committed, and the next message is processed;
- the event's id is inserted into `processed_events` in the same transaction as the handler's
  change, so a redelivered event changes nothing;
- the offset is committed only after that transaction has committed;
- a passing failure (database or broker unreachable) is retried: the consumer seeks back to the
  message and tries again after a pause, keeping its place; nothing is dead-lettered for it;
- a handler that raises `PermanentFailure` (a domain rule the event can never pass), or fails in
  a way a retry cannot mend, sends the message to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord

from qaf_shared.envelope import ContractViolation, Envelope, decode
from qaf_shared.metrics import DEAD_LETTERED, EVENTS_HANDLED, TRANSIENT_FAILURES
from qaf_shared.topics import DLQ_SUFFIX, logical_name

log = structlog.get_logger(__name__)

EventHandler = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[None]]
# Applies many events at once (set-based SQL); used for batches instead of the per-event handlers.
BatchHandler = Callable[[asyncpg.Connection, Sequence[Envelope[Any]]], Awaitable[None]]

MAX_REASON_LENGTH = 1000

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


class PermanentFailure(Exception):
    """The event breaks a rule it can never pass; it goes to the dead-letter topic with this reason."""


@dataclass
class DeadLetter:
    reason: str


@dataclass
class BatchOutcome:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0

    def add(self, other: BatchOutcome) -> None:
        for name in ("records", "applied", "duplicates", "ignored", "dead_lettered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class EventConsumer:
    """Applies events from Kafka to a service's database, exactly once in effect."""

    name: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    handlers: Mapping[str, EventHandler]
    retry_backoff_s: float = 1.0
    topic_prefix: str = ""
    batch_handler: BatchHandler | None = None

    def _decode(self, record: ConsumerRecord) -> Envelope[Any]:
        return decode(record.value, expected_topic=logical_name(record.topic, self.topic_prefix))

    async def handle_record(self, record: ConsumerRecord) -> DeadLetter | None:
        """Apply one record. Returns the dead letter it became, if any. Raises on passing failures."""
        try:
            envelope = self._decode(record)
        except ContractViolation as exc:
            return await self._dead_letter(record, str(exc))
        if envelope.event_type not in self.handlers:
            EVENTS_HANDLED.labels(self.name, envelope.event_type, "ignored").inc()
            return None
        letter, _ = await self._apply_alone(record, envelope)
        return letter

    async def handle_batch(self, records: Sequence[ConsumerRecord]) -> BatchOutcome:
        """Apply records in one transaction, falling back to one each when one of them cannot be applied.

        Raises on passing failures, so the caller retries the whole batch and commits nothing.
        """
        outcome = BatchOutcome(records=len(records))
        decoded: list[tuple[ConsumerRecord, Envelope[Any]]] = []
        for record in records:
            try:
                envelope = self._decode(record)
            except ContractViolation as exc:
                await self._dead_letter(record, str(exc))
                outcome.dead_lettered += 1
                continue
            if envelope.event_type not in self.handlers:
                EVENTS_HANDLED.labels(self.name, envelope.event_type, "ignored").inc()
                outcome.ignored += 1
                continue
            decoded.append((record, envelope))
        if len(decoded) > 1:
            try:
                outcome.applied = await self._apply_together(decoded)
                outcome.duplicates = len(decoded) - outcome.applied
                return outcome
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                # One event of the batch cannot be applied: apply each alone, so only it is dead-lettered.
                log.info("consumer.batch_split", records=len(decoded), error=type(exc).__name__)
        for record, envelope in decoded:
            letter, applied = await self._apply_alone(record, envelope)
            if letter is not None:
                outcome.dead_lettered += 1
            else:
                outcome.applied += applied
                outcome.duplicates += 1 - applied
        return outcome

    async def _apply_alone(self, record: ConsumerRecord, envelope: Envelope[Any]) -> tuple[DeadLetter | None, int]:
        """Apply one event in its own transaction: (the dead letter it became, or None; 1 if applied)."""
        with structlog.contextvars.bound_contextvars(
            event_id=str(envelope.event_id),
            correlation_id=str(envelope.correlation_id),
            event_type=envelope.event_type,
        ):
            try:
                applied = await self._apply_together([(record, envelope)], batch=False)
            except TRANSIENT_ERRORS:
                raise
            except PermanentFailure as exc:
                return await self._dead_letter(record, str(exc)), 0
            except asyncpg.PostgresError as exc:
                return await self._dead_letter(record, f"database refused the change: {exc}"), 0
            except Exception as exc:  # a bug must not block the partition
                log.exception("consumer.handler_failed")
                return await self._dead_letter(record, f"handler failed: {type(exc).__name__}: {exc}"), 0
            log.debug("consumer.event_handled", outcome="applied" if applied else "duplicate")
        return None, applied

    async def _apply_together(
        self, items: Sequence[tuple[ConsumerRecord, Envelope[Any]]], *, batch: bool = True
    ) -> int:
        """One transaction: record every event id, apply those seen for the first time, in order."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                INSERT INTO processed_events (consumer, event_id, event_type, topic, partition, "offset")
                SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[])
                ON CONFLICT (consumer, event_id) DO NOTHING
                RETURNING event_id
                """,
                self.name,
                [e.event_id for _, e in items],
                [e.event_type for _, e in items],
                [r.topic for r, _ in items],
                [r.partition for r, _ in items],
                [r.offset for r, _ in items],
            )
            fresh_ids = {row["event_id"] for row in rows}
            fresh: list[Envelope[Any]] = []
            outcomes: Counter[tuple[str, str]] = Counter()
            for _, envelope in items:
                if envelope.event_id in fresh_ids:
                    fresh_ids.discard(envelope.event_id)  # the same event twice in one batch applies once
                    fresh.append(envelope)
                    outcomes[(envelope.event_type, "applied")] += 1
                else:
                    outcomes[(envelope.event_type, "duplicate")] += 1
            if batch and self.batch_handler is not None:
                await self.batch_handler(conn, fresh)
            else:
                for envelope in fresh:
                    await self.handlers[envelope.event_type](conn, envelope)
        # counted once the transaction has committed, one increment per (type, outcome) of the batch
        for (event_type, outcome), n in outcomes.items():
            EVENTS_HANDLED.labels(self.name, event_type, outcome).inc(n)
        return len(fresh)

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> DeadLetter:
        reason = reason[:MAX_REASON_LENGTH]
        headers = [
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-origin-topic", record.topic.encode()),
            ("x-dlq-origin-partition", str(record.partition).encode()),
            ("x-dlq-origin-offset", str(record.offset).encode()),
            ("x-dlq-consumer", self.name.encode()),
            ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        await self.producer.send_and_wait(
            record.topic + DLQ_SUFFIX, value=record.value, key=record.key, headers=headers
        )
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO dead_letters (consumer, topic, partition, "offset", reason)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """,
                self.name,
                record.topic,
                record.partition,
                record.offset,
                reason,
            )
        DEAD_LETTERED.labels(self.name, record.topic).inc()
        log.warning(
            "consumer.dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        return DeadLetter(reason)

    async def on_message(self, message: Any) -> None:
        """FastStream entry point (AckPolicy.MANUAL): ack after commit, nack to retry from the same place.

        The message is one record, or a batch of them (a subscriber with `batch=True`).
        """
        raw = message.raw_message
        records: Sequence[ConsumerRecord] = raw if isinstance(raw, tuple) else (raw,)
        try:
            if len(records) == 1:
                await self.handle_record(records[0])
            else:
                await self.handle_batch(records)
        except TRANSIENT_ERRORS as exc:
            TRANSIENT_FAILURES.labels(self.name).inc()
            first = records[0]
            log.warning(
                "consumer.transient_failure",
                topic=first.topic,
                partition=first.partition,
                offset=first.offset,
                records=len(records),
                error=type(exc).__name__,
            )
            await asyncio.sleep(self.retry_backoff_s)
            await message.nack()
            return
        await message.ack()
