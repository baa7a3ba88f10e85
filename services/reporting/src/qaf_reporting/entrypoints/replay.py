"""`replay`: rebuild every figure from offset zero into an empty schema.

Run it with the service stopped (it uses the service's consumer group to commit where it ends).
It empties the reporting tables (counters, case states, once-keys, dirty cells, watermark and this
consumer's processed_events; not the record of what was published), assigns itself every partition of
the consumed topics, reads them from the beginning up to the end offsets taken at the start, applies
the records in batches through the shared consumer's batch path (`consume_to_end`, pipelined), commits
the group's offsets after each batch, and finally publishes the figures that differ from what was last
published (coalesced: at most one theme-updated per figure, and none at all when the replay rebuilt the
same figures) and relays the outbox.

Before it touches anything (schema, tables, offsets) `replay_from_zero` asks the broker for each input
partition's log start offset: above 0, the broker has deleted that partition's first events (retention,
or records deleted by hand), and a rebuild would silently leave them out of the figures. It then refuses
(`TruncatedHistory`), unless told to accept the truncated history, when it says which offsets are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.kafka import (
    BatchOutcome,
    EventConsumer,
    OutboxRelay,
    PreparedBatch,
    client_options,
    ensure_topics,
    make_producer,
)
from qaf_shared.kafka.consumer import classify
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription, tune_gc
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_reporting import usecases
from qaf_reporting.adapters.publisher import FigurePublisher
from qaf_reporting.adapters.repository import Repository
from qaf_reporting.handlers import CONSUMER

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MissingOffsets:
    """Offsets 0 .. log_start - 1 of one partition: deleted by the broker, so no replay can read them."""

    topic: str
    partition: int
    log_start: int

    def describe(self) -> str:
        gone = f"offsets 0..{self.log_start - 1} are gone ({self.log_start} offsets)"
        return f"{self.topic} partition {self.partition}: {gone}"

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "first": 0, "last": self.log_start - 1,
                "count": self.log_start}


class TruncatedHistory(RuntimeError):
    """An input partition no longer starts at offset 0: the replay would rebuild smaller figures."""

    def __init__(self, missing: list[MissingOffsets]) -> None:
        self.missing = missing
        super().__init__("; ".join(m.describe() for m in missing))


@dataclass
class ReplayStats:
    batch: BatchOutcome = field(default_factory=BatchOutcome)
    retries: int = 0
    seconds: float = 0.0
    published: int = 0
    missing: list[MissingOffsets] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self.batch)
        out.update(
            retries=self.retries,
            seconds=round(self.seconds, 3),
            events_per_second=round(self.batch.records / self.seconds, 1) if self.seconds else None,
            theme_updated_published=self.published,
            missing_offsets=[m.as_dict() for m in self.missing],
        )
        return out


async def partitions_of(kafka: Any, topic_names: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        described = await admin.describe_topics(topic_names)
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    )


async def missing_history(kafka: Any, topic_names: list[str]) -> list[MissingOffsets]:
    """Every partition of `topic_names` whose log start offset (earliest still held) is above 0."""
    partitions = await partitions_of(kafka, topic_names)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False)  # no group: reads nothing
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    return [MissingOffsets(tp.topic, tp.partition, starts[tp]) for tp in partitions if starts[tp] > 0]


FETCH_STEP = 2000


async def consume_to_end(
    applier: EventConsumer,
    settings: Any,
    topic_names: list[str],
    group_id: str,
    *,
    batch_size: int = 5000,
) -> tuple[BatchOutcome, int]:
    """Read `topic_names` from offset zero to their end offsets now, applying in batches.

    Pipelined: while PostgreSQL applies one batch (its own transaction, on its own core), this process
    fetches and prepares the next (decoding and validating, turning events into counter increments).
    Batches are applied one at a time and in order, so first sightings and case states come out as
    in a one-by-one replay; while one is in flight the next grows (up to `batch_size` records), and a
    batch's offsets are committed only once its transaction has committed.
    """
    kafka = settings.kafka
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch_size,
        fetch_max_bytes=4 * 1024 * 1024,
        max_partition_fetch_bytes=1024 * 1024,
    )
    await consumer.start()
    stats = BatchOutcome()
    retries = 0

    async def apply(batch: PreparedBatch) -> BatchOutcome:
        """Apply a batch whole: what fails is retried in place, until applied or dead-lettered."""
        nonlocal retries
        total = BatchOutcome()
        while True:
            try:
                outcome = await applier.apply_prepared(batch)
            except Exception as exc:
                # as the live consumer does: a whole batch failing is retried without end
                retries += 1
                log.warning("replay.retrying", error=type(exc).__name__, kind=classify(exc).value)
                await asyncio.sleep(applier.retry.delay(retries))
                continue
            held = BatchOutcome(rewind=outcome.rewind)
            outcome.rewind = {}
            total.add(outcome)
            if not held.rewind:
                return total
            # records that failed unexpectedly (and those behind them on their partitions) are tried again
            # after the backoff; the consumer dead-letters one once it has failed too often
            retries += 1
            await asyncio.sleep(max(rewind.delay_s for rewind in held.rewind.values()))
            batch = PreparedBatch(items=[item for item in batch.items if held.holds(item.record)])

    in_flight: asyncio.Task[BatchOutcome] | None = None
    in_flight_commits: dict[TopicPartition, int] = {}

    async def settle() -> None:
        """Wait for the batch in flight; once its transaction has committed, commit its offsets."""
        nonlocal in_flight
        if in_flight is None:
            return
        stats.add(await in_flight)
        in_flight = None
        if in_flight_commits:
            await consumer.commit(dict(in_flight_commits))

    try:
        partitions = await partitions_of(kafka, topic_names)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = set()
        for tp in partitions:
            if ends[tp] > await consumer.position(tp):
                remaining.add(tp)
            else:
                consumer.pause(tp)
        pending = PreparedBatch()
        pending_commits: dict[TopicPartition, int] = {}
        while remaining:
            # fetched in small steps, so the first batch starts PostgreSQL early and the next grows meanwhile
            data = await consumer.getmany(timeout_ms=1000, max_records=min(batch_size, FETCH_STEP))
            records = []
            for tp, batch in data.items():
                kept = [r for r in batch if r.offset < ends[tp]]
                records.extend(kept)
                if kept:
                    pending_commits[tp] = kept[-1].offset + 1
                    if kept[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
                        consumer.pause(tp)
            pending.extend(await applier.prepare_batch(records))
            if in_flight is not None and not in_flight.done() and len(pending.items) < batch_size and remaining:
                continue  # PostgreSQL is still busy: let the next batch grow
            await settle()
            in_flight = asyncio.create_task(apply(pending))
            in_flight_commits = pending_commits
            pending, pending_commits = PreparedBatch(), {}
        await settle()
        return stats, retries
    finally:
        if in_flight is not None:
            in_flight.cancel()
            with contextlib.suppress(BaseException):
                await in_flight
        await consumer.stop()


def _subscription(definition: ServiceDefinition) -> tuple[ServiceRuntime, Subscription]:
    """The service's own consumer, as it runs live: same handlers, same group, same topics."""
    runtime = ServiceRuntime(definition)
    return runtime, next(s for s in definition.subscriptions(runtime) if s.consumer == CONSUMER)


def input_topics(definition: ServiceDefinition) -> list[str]:
    prefix = definition.settings.kafka.topic_prefix
    return [prefix + t.name for t in _subscription(definition)[1].topics]


async def replay_into(
    definition: ServiceDefinition,
    pool: asyncpg.Pool,
    dsn: str,
    *,
    publish: bool = True,
    reset: bool = True,
) -> ReplayStats:
    """Empty the figures and rebuild them from whatever the input topics hold (no history check:
    `replay_from_zero` makes it)."""
    settings = definition.settings
    prefix = settings.kafka.topic_prefix
    tune_gc()
    await ensure_topics(settings.kafka)
    if reset:
        await usecases.forget_counted_events(PostgresUnitOfWork(pool, Repository), CONSUMER)
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        runtime, subscription = _subscription(definition)
        applier = runtime.event_consumer(subscription, pool, producer)
        started = time.perf_counter()
        result = ReplayStats()
        result.batch, result.retries = await consume_to_end(
            applier,
            settings,
            [prefix + t.name for t in subscription.topics],
            runtime.consumer_group(CONSUMER),
            batch_size=getattr(settings, "replay_batch_size", 20000),
        )
        result.seconds = time.perf_counter() - started
        if publish:
            result.published = await FigurePublisher(pool).flush_all()
            relay = OutboxRelay(dsn=dsn, schema=definition.name, producer=producer, topic_prefix=prefix)
            async with pool.acquire() as conn:
                while await relay.publish_pending(conn):
                    pass
        return result
    finally:
        await producer.stop()


async def checked_history(definition: ServiceDefinition, *, accept_truncated_history: bool) -> list[MissingOffsets]:
    """The input offsets the broker no longer holds; raises TruncatedHistory unless they are accepted."""
    missing = await missing_history(definition.settings.kafka, input_topics(definition))
    if missing and not accept_truncated_history:
        raise TruncatedHistory(missing)
    for gap in missing:
        log.warning("replay.history_truncated", topic=gap.topic, partition=gap.partition, missing_first=0,
                    missing_last=gap.log_start - 1, missing_count=gap.log_start)
    return missing


async def replay_from_zero(
    definition: ServiceDefinition, *, publish: bool = True, accept_truncated_history: bool = False
) -> ReplayStats:
    settings = definition.settings
    # first, before the schema is migrated or a table emptied: a refused replay changes nothing
    missing = await checked_history(definition, accept_truncated_history=accept_truncated_history)
    # not `migrated_pool`: the outbox relay needs the service role's address, which it keeps to itself
    url = await migrate_service(
        settings.database_url, definition.name, settings.db_role_password.get_secret_value(), definition.migrations_dir
    )
    pool = await connect_pool(url, definition.name, max_size=4)
    try:
        stats = await replay_into(definition, pool, url, publish=publish)
        stats.missing = missing
        return stats
    finally:
        await pool.close()
