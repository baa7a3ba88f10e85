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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord

from qaf_shared.envelope import ContractViolation, Envelope, decode
from qaf_shared.metrics import DEAD_LETTERED, EVENTS_HANDLED, TRANSIENT_FAILURES
from qaf_shared.topics import DLQ_SUFFIX, logical_name

log = structlog.get_logger(__name__)

EventHandler = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[None]]
# Applies many events at once (set-based SQL); used for batches instead of the per-event handlers.
# It takes the events fresh in this transaction: envelopes, or what `Preparer` made of each.
BatchHandler = Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[None]]
# Pure work on one event done before the transaction (e.g. turning it into counter increments), so a
# consumer can prepare the next batch while the database applies this one. Raises PermanentFailure
# for an event that can never be applied.
Preparer = Callable[[Envelope[Any]], Any]

# Preparing a batch is CPU work; it lets other tasks (an apply in flight, HTTP requests) run this often.
YIELD_EVERY = 256

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


class Decoded(NamedTuple):
    """One event ready to apply. A prepared batch holds no envelopes (memory), only what was prepared."""

    record: ConsumerRecord
    event_id: UUID
    event_type: str
    correlation_id: UUID
    prepared: Any  # what the handlers take: the envelope, or what `Preparer` made of it


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
class PreparedBatch:
    """Records decoded and prepared, not yet applied; dead letters and ignored records already counted."""

    items: list[Decoded] = field(default_factory=list)
    outcome: BatchOutcome = field(default_factory=BatchOutcome)

    def extend(self, other: PreparedBatch) -> None:
        self.items.extend(other.items)
        self.outcome.add(other.outcome)


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
    prepare: Preparer | None = None

    def __post_init__(self) -> None:
        if self.prepare is not None and self.batch_handler is None:
            raise ValueError("prepare needs a batch_handler: per-event handlers take envelopes")

    def _decode(self, record: ConsumerRecord) -> Envelope[Any]:
        return decode(record.value, expected_topic=logical_name(record.topic, self.topic_prefix))

    async def handle_record(self, record: ConsumerRecord) -> DeadLetter | None:
        """Apply one record. Returns the dead letter it became, if any. Raises on passing failures."""
        item, refusal = self._decode_and_prepare(record)
        if refusal is not None:
            return await self._dead_letter(record, refusal)
        if item is None:
            return None
        letter, _ = await self._apply_alone(item)
        return letter

    async def handle_batch(self, records: Sequence[ConsumerRecord]) -> BatchOutcome:
        """Apply records in one transaction, falling back to one each when one of them cannot be applied.

        Raises on passing failures, so the caller retries the whole batch and commits nothing.
        """
        return await self.apply_prepared(await self.prepare_batch(records))

    async def prepare_batch(self, records: Sequence[ConsumerRecord]) -> PreparedBatch:
        """Decode and prepare, dead-lettering what can never be applied; nothing is applied yet."""
        batch = PreparedBatch(outcome=BatchOutcome(records=len(records)))
        outcome = batch.outcome
        for index, record in enumerate(records):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            item, refusal = self._decode_and_prepare(record)
            if refusal is not None:
                await self._dead_letter(record, refusal)
                outcome.dead_lettered += 1
            elif item is None:
                outcome.ignored += 1
            else:
                batch.items.append(item)
        return batch

    def _decode_and_prepare(self, record: ConsumerRecord) -> tuple[Decoded | None, str | None]:
        """(the event ready to apply, None), (None, why it can never be applied) or (None, None): not ours."""
        try:
            envelope = self._decode(record)
        except ContractViolation as exc:
            return None, str(exc)
        if envelope.event_type not in self.handlers:
            EVENTS_HANDLED.labels(self.name, envelope.event_type, "ignored").inc()
            return None, None
        prepared: Any = envelope
        if self.prepare is not None:
            try:
                prepared = self.prepare(envelope)
            except PermanentFailure as exc:
                return None, str(exc)
            except Exception as exc:  # a bug must not block the partition
                log.exception("consumer.prepare_failed", event_id=str(envelope.event_id))
                return None, f"handler failed: {type(exc).__name__}: {exc}"
        return Decoded(record, envelope.event_id, envelope.event_type, envelope.correlation_id, prepared), None

    async def apply_prepared(self, batch: PreparedBatch) -> BatchOutcome:
        """Apply a prepared batch in one transaction; split it when one event cannot be applied."""
        outcome = BatchOutcome()
        outcome.add(batch.outcome)
        items = batch.items
        if len(items) > 1:
            try:
                applied = await self._apply_together(items)
                outcome.applied += applied
                outcome.duplicates += len(items) - applied
                return outcome
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                # One event of the batch cannot be applied: apply each alone, so only it is dead-lettered.
                log.info("consumer.batch_split", records=len(items), error=type(exc).__name__)
        for item in items:
            letter, applied = await self._apply_alone(item)
            if letter is not None:
                outcome.dead_lettered += 1
            else:
                outcome.applied += applied
                outcome.duplicates += 1 - applied
        return outcome

    async def _apply_alone(self, item: Decoded) -> tuple[DeadLetter | None, int]:
        """Apply one event in its own transaction: (the dead letter it became, or None; 1 if applied)."""
        record = item.record
        with structlog.contextvars.bound_contextvars(
            event_id=str(item.event_id),
            correlation_id=str(item.correlation_id),
            event_type=item.event_type,
        ):
            try:
                applied = await self._apply_together([item], batch=False)
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

    async def _apply_together(self, items: Sequence[Decoded], *, batch: bool = True) -> int:
        """One transaction: record every event id, apply those seen for the first time, in order."""
        async with self.pool.acquire() as conn, conn.transaction():
            ids = [item.event_id for item in items]
            recorded = await conn.fetchval(
                """
                WITH recorded AS (
                    INSERT INTO processed_events (consumer, event_id, event_type, topic, partition, "offset")
                    SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[])
                    ON CONFLICT (consumer, event_id) DO NOTHING
                    RETURNING 1
                )
                SELECT count(*) FROM recorded
                """,
                self.name,
                ids,
                [item.event_type for item in items],
                [item.record.topic for item in items],
                [item.record.partition for item in items],
                [item.record.offset for item in items],
            )
            if recorded == len(items):
                fresh = list(items)  # the common case: every event new, and each once in the batch
            else:
                # some were seen before (or twice here): those this transaction recorded are the fresh ones
                rows = await conn.fetch(
                    """
                    SELECT event_id FROM processed_events
                    WHERE consumer = $1 AND event_id = ANY($2::uuid[]) AND xmin = pg_current_xact_id()::xid
                    """,
                    self.name,
                    ids,
                )
                fresh_ids = {row["event_id"] for row in rows}
                fresh = []
                for item in items:
                    if item.event_id in fresh_ids:
                        fresh_ids.discard(item.event_id)  # the same event twice in one batch applies once
                        fresh.append(item)
            # what was prepared goes to the batch handler even alone: the per-event handlers take envelopes
            if self.batch_handler is not None and (batch or self.prepare is not None):
                await self.batch_handler(conn, [item.prepared for item in fresh])
            else:
                for item in fresh:
                    await self.handlers[item.event_type](conn, item.prepared)
        # counted once the transaction has committed, one increment per (type, outcome) of the batch
        applied = Counter(item.event_type for item in fresh)
        duplicates = Counter(item.event_type for item in items)
        duplicates.subtract(applied)
        for outcome, counts in (("applied", applied), ("duplicate", duplicates)):
            for event_type, n in counts.items():
                if n:
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
