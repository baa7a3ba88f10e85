"""The idempotent consumer: decode, apply once in one transaction, then commit the offset.

The promise: no offset is ever committed past a record that was neither applied nor durably
dead-lettered. For each record:
- it is decoded against its contract; a record that cannot be decoded goes to `<topic>.dlq` with the
  reason in headers (a bounded copy: a record too large to copy whole is truncated, and says so);
- the event's id is inserted into `processed_events` in the same transaction as the handler's change,
  so a redelivered event changes nothing; offsets are committed only after that transaction;
- a failure is classified (`classify`): a *permanent* one (a contract violation, a domain rule the
  event can never pass — `PermanentFailure`, or a use case's refusal, any `qaf_shared.errors.DomainError`
  — a data or integrity error of the event itself) dead-letters the event at once;
  a *transient* one (database or broker unavailable, read-only after a failover, disk full, lock or
  statement timeout, serialization failure, out of memory, a dead-letter publish that failed) is
  retried in place without end; anything else is *unexpected* (most likely a bug) and is retried in
  place until `RetryPolicy.max_attempts` or `max_duration_s`, then dead-lettered as "failed
  repeatedly: ...", so a bug never blocks a partition for ever and never loses an event;
- retrying in place: the partition is rewound to the failing record and paused for a backoff that
  doubles up to a cap (with jitter); the other partitions go on; `/ready` lists what is retrying and
  `qaf_consumer_retries_total` / `qaf_consumer_retrying_partitions` count it;
- a record already dead-lettered by an earlier try (its origin position is in `dead_letters`) is not
  copied or counted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, MessageSizeTooLargeError

from qaf_shared.envelope import ContractViolation, Envelope, Payload, decode
from qaf_shared.errors import DomainError
from qaf_shared.kafka.connection import MAX_MESSAGE_BYTES
from qaf_shared.metrics import DEAD_LETTERED, EVENTS_HANDLED, RETRIES, RETRYING_PARTITIONS, TRANSIENT_FAILURES
from qaf_shared.topics import DLQ_SUFFIX, logical_name

log = structlog.get_logger(__name__)

# A handler takes the consumer's connection (its transaction records the event id) and the event; the
# consumer's table of handlers is keyed by payload class, so `Envelope[CaseOpened]` says what it handles.
EventHandler = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[None]]
Handlers = Mapping[type[Payload], EventHandler]
# Applies many events at once (set-based SQL); used for batches instead of the per-event handlers.
# It takes the events fresh in this transaction: envelopes, or what `Preparer` made of each.
BatchHandler = Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[None]]
# Pure work on one event done before the transaction (e.g. turning it into counter increments), so a
# consumer can prepare the next batch while the database applies this one. Raises PermanentFailure
# for an event that can never be applied.
Preparer = Callable[[Envelope[Any]], Any]
# Called with the records of a transaction right after it committed, before their offsets are: a seam
# for fault injection (a test kills the process here) and for instrumentation.
AfterCommit = Callable[[Sequence[ConsumerRecord]], None]

# Preparing a batch is CPU work; it lets other tasks (an apply in flight, HTTP requests) run this often.
YIELD_EVERY = 256

MAX_REASON_LENGTH = 1000

# A dead-letter copy always fits the producer's limit: the value is cut to half of it (a record of up
# to MAX_MESSAGE_BYTES came in), the key to a few kilobytes, leaving room for the headers.
DLQ_MAX_VALUE_BYTES = MAX_MESSAGE_BYTES // 2
DLQ_MAX_KEY_BYTES = 4096


class PermanentFailure(Exception):
    """The event breaks a rule it can never pass; it goes to the dead-letter topic with this reason."""


class DeadLetterUnavailable(Exception):
    """The dead-letter copy could not be written (broker down, timeout): retried, never skipped."""


class Failure(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    UNEXPECTED = "unexpected"


# PostgreSQL errors by SQLSTATE (class = its first two characters). Documented in docs/operating.md.
PERMANENT_SQLSTATE_CLASSES = {
    "22": "data exception (a value of the event is invalid)",
    "23": "integrity constraint violation (the event contradicts what is stored)",
}
TRANSIENT_SQLSTATE_CLASSES = {
    "08": "connection exception",
    "40": "transaction rollback (serialization failure, deadlock)",
    "53": "insufficient resources (disk full, out of memory, too many connections)",
    "57": "operator intervention (statement timeout, shutdown, cannot connect now)",
    "58": "system error (I/O)",
}
TRANSIENT_SQLSTATES = {
    "25006": "read-only transaction (a failover in progress)",
    "25P03": "idle-in-transaction timeout",
    "55P03": "lock not available (lock timeout)",
    "55006": "object in use",
}

# Raised outside PostgreSQL for a passing reason: the network, a timeout, a connection the pool lost.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    DeadLetterUnavailable,
)


def classify(exc: BaseException) -> Failure:
    """Whether a failure can never pass (dead-letter), will pass (retry), or is not known (retry, bounded)."""
    if isinstance(exc, (PermanentFailure, ContractViolation, DomainError)):
        return Failure.PERMANENT
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        if state in TRANSIENT_SQLSTATES or state[:2] in TRANSIENT_SQLSTATE_CLASSES:
            return Failure.TRANSIENT
        if state[:2] in PERMANENT_SQLSTATE_CLASSES:
            return Failure.PERMANENT
        return Failure.UNEXPECTED
    if isinstance(exc, TRANSIENT_ERRORS):
        return Failure.TRANSIENT
    return Failure.UNEXPECTED


def describe(exc: BaseException) -> str:
    if isinstance(exc, (PermanentFailure, DomainError)):
        return str(exc)
    if isinstance(exc, asyncpg.PostgresError):
        return f"database refused the change: {exc}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class RetryPolicy:
    """How a failing record is retried in place."""

    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_attempts: int = 10  # of unexpected failures, before the record is dead-lettered
    max_duration_s: float = 900.0  # or since its first unexpected failure

    def delay(self, attempt: int) -> float:
        # Doubling, capped; jittered so that consumers failing together do not all retry in step.
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** min(attempt - 1, 30))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class FailingRecord:
    """A record a partition is held at while it is retried."""

    topic: str
    partition: int
    offset: int
    kind: Failure
    error: str
    attempts: int = 0  # every failed try, for the backoff
    unexpected: int = 0  # tries that failed unexpectedly, for the bound
    first_unexpected_at: float | None = None
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "kind": self.kind.value,
            "attempts": self.attempts,
            "error": self.error[:200],
            "since": self.since,
        }


class Rewind(NamedTuple):
    """Go back to `offset` on a partition and try again after `delay_s`; nothing from it is committed past."""

    offset: int
    delay_s: float


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
    retried: int = 0  # records put back, to be fetched and tried again
    # partitions held at a failing record: (topic, partition) → where to go back to
    rewind: dict[tuple[str, int], Rewind] = field(default_factory=dict)

    COUNTS = ("records", "applied", "duplicates", "ignored", "dead_lettered", "retried")

    def add(self, other: BatchOutcome) -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for position, rewind in other.rewind.items():
            if position not in self.rewind or rewind.offset < self.rewind[position].offset:
                self.rewind[position] = rewind

    def holds(self, record: ConsumerRecord) -> bool:
        """Is this record's partition held at or before it (so it must not be applied now)?"""
        rewind = self.rewind.get((record.topic, record.partition))
        return rewind is not None and rewind.offset <= record.offset


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
    handlers: Handlers
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    topic_prefix: str = ""
    batch_handler: BatchHandler | None = None
    prepare: Preparer | None = None
    after_commit: AfterCommit | None = None
    # partitions held at a record that failed, until it is applied or dead-lettered
    failing: dict[tuple[str, int], FailingRecord] = field(default_factory=dict)
    _paused: set[TopicPartition] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.prepare is not None and self.batch_handler is None:
            raise ValueError("prepare needs a batch_handler: per-event handlers take envelopes")

    @property
    def retry_backoff_s(self) -> float:
        return self.retry.backoff_s

    def _decode(self, record: ConsumerRecord) -> Envelope[Any]:
        return decode(record.value, expected_topic=logical_name(record.topic, self.topic_prefix))

    def retrying(self) -> list[dict[str, Any]]:
        """What this consumer is holding partitions at, for /ready."""
        return [{"consumer": self.name, **state.as_dict()} for state in self.failing.values()]

    async def handle_batch(self, records: Sequence[ConsumerRecord]) -> BatchOutcome:
        """Apply records in one transaction, falling back to one each when one of them cannot be applied.

        Raises on transient failures, so the caller retries the whole batch and commits nothing of it.
        A record that failed unexpectedly holds its partition: see `BatchOutcome.rewind`.
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
        """(the event ready to apply, None), (None, why it can never be applied) or (None, None): not ours.

        A preparer is pure: the same event gives the same answer on every try, so whatever it raises
        (a rule, or a bug) is dead-lettered at once rather than retried.
        """
        try:
            envelope = self._decode(record)
        except ContractViolation as exc:
            return None, str(exc)
        if type(envelope.payload) not in self.handlers:
            EVENTS_HANDLED.labels(self.name, envelope.event_type, "ignored").inc()
            return None, None
        prepared: Any = envelope
        if self.prepare is not None:
            try:
                prepared = self.prepare(envelope)
            except PermanentFailure as exc:
                return None, str(exc)
            except Exception as exc:
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
            except Exception as exc:
                if classify(exc) is Failure.TRANSIENT:
                    raise
                # One event of the batch cannot be applied: apply each alone, so only it is held or
                # dead-lettered.
                log.info("consumer.batch_split", records=len(items), error=type(exc).__name__)
        for item in items:
            if outcome.holds(item.record):
                outcome.retried += 1
                continue
            letter, applied, rewind = await self._apply_alone(item)
            if rewind is not None:
                outcome.rewind[(item.record.topic, item.record.partition)] = rewind
                outcome.retried += 1
            elif letter is not None:
                outcome.dead_lettered += 1
            else:
                outcome.applied += applied
                outcome.duplicates += 1 - applied
        return outcome

    async def _apply_alone(self, item: Decoded) -> tuple[DeadLetter | None, int, Rewind | None]:
        """Apply one event in its own transaction: (the dead letter it became, 1 if applied, or where to go back)."""
        record = item.record
        with structlog.contextvars.bound_contextvars(
            event_id=str(item.event_id),
            correlation_id=str(item.correlation_id),
            event_type=item.event_type,
        ):
            try:
                applied = await self._apply_together([item], batch=False)
            except Exception as exc:
                kind = classify(exc)
                if kind is Failure.TRANSIENT:
                    raise
                if kind is Failure.PERMANENT:
                    return await self._dead_letter(record, describe(exc)), 0, None
                log.exception("consumer.handler_failed", topic=record.topic, partition=record.partition,
                              offset=record.offset)
                self._count_try(exc, kind)
                state = self._note_failure(record.topic, record.partition, record.offset, exc, kind, bounded=True)
                if self._exhausted(state):
                    self.failing.pop((record.topic, record.partition), None)
                    reason = f"failed repeatedly ({state.unexpected} tries): {describe(exc)}"
                    return await self._dead_letter(record, reason), 0, None
                return None, 0, Rewind(record.offset, self.retry.delay(state.attempts))
            log.debug("consumer.event_handled", outcome="applied" if applied else "duplicate")
        return None, applied, None

    def _note_failure(
        self, topic: str, partition: int, offset: int, exc: BaseException, kind: Failure, *, bounded: bool = False
    ) -> FailingRecord:
        """Count one more failed try of the record at (topic, partition, offset); `bounded`: towards its bound."""
        state = self.failing.get((topic, partition))
        if state is None or state.offset != offset:
            state = FailingRecord(topic, partition, offset, kind, describe(exc))
            self.failing[(topic, partition)] = state
        state.attempts += 1
        state.kind, state.error = kind, describe(exc)
        if bounded:
            state.unexpected += 1
            if state.first_unexpected_at is None:
                state.first_unexpected_at = time.monotonic()
        return state

    def _count_try(self, exc: BaseException, kind: Failure) -> None:
        """One failed try (of a record, or of a whole batch), on /metrics."""
        RETRIES.labels(self.name, "dead-letter" if isinstance(exc, DeadLetterUnavailable) else kind.value).inc()
        if kind is Failure.TRANSIENT:
            TRANSIENT_FAILURES.labels(self.name).inc()

    def _exhausted(self, state: FailingRecord) -> bool:
        if state.unexpected >= self.retry.max_attempts:
            return True
        started = state.first_unexpected_at
        return started is not None and time.monotonic() - started >= self.retry.max_duration_s

    def _settled(self, records: Sequence[ConsumerRecord]) -> None:
        """These records are applied: a partition held at one of them is no longer failing."""
        if not self.failing:
            return
        for record in records:
            state = self.failing.get((record.topic, record.partition))
            if state is not None and record.offset >= state.offset:
                del self.failing[(record.topic, record.partition)]
                log.info("consumer.retry_succeeded", topic=record.topic, partition=record.partition,
                         offset=record.offset, attempts=state.attempts)

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
                    await self.handlers[type(item.prepared.payload)](conn, item.prepared)
        records = [item.record for item in items]
        if self.after_commit is not None:
            self.after_commit(records)
        self._settled(records)
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
        """Copy the record to its dead-letter topic and note it; once per record, however often it is tried.

        Raises DeadLetterUnavailable when the copy cannot be written, so the record is retried, never skipped.
        """
        reason = reason[:MAX_REASON_LENGTH]
        position = (self.name, record.topic, record.partition, record.offset)
        already = await self.pool.fetchval(
            'SELECT reason FROM dead_letters WHERE consumer = $1 AND topic = $2 AND partition = $3 AND "offset" = $4',
            *position,
        )
        if already is not None:  # an earlier try of this batch dead-lettered it: neither copied nor counted again
            self._settled([record])
            return DeadLetter(already)
        headers = [
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-origin-topic", record.topic.encode()),
            ("x-dlq-origin-partition", str(record.partition).encode()),
            ("x-dlq-origin-offset", str(record.offset).encode()),
            ("x-dlq-consumer", self.name.encode()),
            ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        try:
            try:
                await self._send_dead_letter(record, headers, DLQ_MAX_VALUE_BYTES)
            except MessageSizeTooLargeError:
                # the broker's limit is lower than ours: the headers alone still say what was lost
                await self._send_dead_letter(record, headers, 0)
        except Exception as exc:
            log.warning("consumer.dead_letter_failed", topic=record.topic, partition=record.partition,
                        offset=record.offset, error=type(exc).__name__)
            raise DeadLetterUnavailable(f"dead-letter publish failed: {type(exc).__name__}: {exc}") from exc
        await self.pool.execute(
            """
            INSERT INTO dead_letters (consumer, topic, partition, "offset", reason)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
            """,
            *position,
            reason,
        )
        self._settled([record])
        DEAD_LETTERED.labels(self.name, record.topic).inc()
        log.warning(
            "consumer.dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        return DeadLetter(reason)

    async def _send_dead_letter(
        self, record: ConsumerRecord, headers: list[tuple[str, bytes]], max_value: int
    ) -> None:
        value, key, cut = bounded_copy(record.value, record.key, max_value)
        await self.producer.send_and_wait(record.topic + DLQ_SUFFIX, value=value, key=key, headers=headers + cut)

    async def on_message(self, message: Any) -> None:
        """FastStream entry point (AckPolicy.MANUAL): commit after the transactions, hold what failed.

        The message is one record, or a batch of them (a subscriber with `batch=True`). A partition
        held at a failing record is rewound to it before the commit, so the commit never passes it.
        """
        raw = message.raw_message
        records: Sequence[ConsumerRecord] = raw if isinstance(raw, tuple) else (raw,)
        consumer = message.consumer
        try:
            outcome = await self.handle_batch(records)
        except Exception as exc:
            # Nothing of this batch may be committed: each of its partitions goes back to its first record.
            kind = classify(exc)
            self._count_try(exc, kind)
            first: dict[tuple[str, int], int] = {}
            for record in records:
                position = (record.topic, record.partition)
                first[position] = min(first.get(position, record.offset), record.offset)
            rewinds = {}
            for (topic, partition), offset in first.items():
                # a whole batch is not one record's fault: retried without end, whatever failed
                state = self._note_failure(topic, partition, offset, exc, kind)
                rewinds[(topic, partition)] = Rewind(offset, self.retry.delay(state.attempts))
            log_method = log.warning if kind is Failure.TRANSIENT else log.exception
            log_method("consumer.retrying", records=len(records), partitions=len(rewinds),
                       error=type(exc).__name__, kind=kind.value)
            self._hold(consumer, rewinds)
            return
        if outcome.rewind:
            self._hold(consumer, outcome.rewind)
        await message.ack()

    def _hold(self, consumer: Any, rewinds: Mapping[tuple[str, int], Rewind]) -> None:
        """Rewind each partition to its failing record and pause it until its backoff has passed."""
        loop = asyncio.get_running_loop()
        for (topic, partition), rewind in rewinds.items():
            tp = TopicPartition(topic, partition)
            try:
                consumer.seek(tp, rewind.offset)
                consumer.pause(tp)
            except IllegalStateError:
                # revoked while the batch was applied: not ours to commit, its next owner starts at the
                # committed offset, which never passed this record; the other partitions are still held
                log.info("consumer.partition_gone", topic=topic, partition=partition, offset=rewind.offset)
                continue
            self._paused.add(tp)
            loop.call_later(rewind.delay_s, self._resume, consumer, tp)
            log.info("consumer.partition_held", topic=topic, partition=partition, offset=rewind.offset,
                     retry_in_s=round(rewind.delay_s, 2))
        RETRYING_PARTITIONS.labels(self.name).set(len(self._paused))

    def _resume(self, consumer: Any, tp: TopicPartition) -> None:
        self._paused.discard(tp)
        RETRYING_PARTITIONS.labels(self.name).set(len(self._paused))
        # the partition may have moved to another instance, or the consumer stopped, meanwhile
        with contextlib.suppress(Exception):
            consumer.resume(tp)


def bounded_copy(value: bytes | None, key: bytes | None, max_value: int) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    """A record's value and key cut to fit a dead-letter topic, with headers that say what was cut."""
    value = value or b""
    headers: list[tuple[str, bytes]] = []
    if len(value) > max_value:
        headers += [
            ("x-dlq-truncated", b"true"),
            ("x-dlq-original-size", str(len(value)).encode()),
            ("x-dlq-original-sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:max_value]
    if key is not None and len(key) > DLQ_MAX_KEY_BYTES:
        headers += [
            ("x-dlq-key-truncated", b"true"),
            ("x-dlq-original-key-sha256", hashlib.sha256(key).hexdigest().encode()),
        ]
        key = key[:DLQ_MAX_KEY_BYTES]
    return value, key, headers
