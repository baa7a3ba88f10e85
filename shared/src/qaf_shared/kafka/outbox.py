"""The transactional outbox: events written with the change that caused them, relayed after commit.

`enqueue` runs inside the caller's transaction; a rolled-back change leaves nothing to publish.
`OutboxRelay` publishes committed rows in order, one relay per schema at a time (a session
advisory lock), woken by NOTIFY and by a slow poll as a safety net.

A row Kafka refuses for good (too large, a corrupt record, an invalid topic) is moved aside into
`outbox_quarantine` with its reason, so the rows behind it keep flowing; ops list it and move it back
once the cause is fixed (`qaf-<service> outbox quarantined | requeue <id>`). Published rows are
deleted after their retention, a bounded batch at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    BrokerResponseError,
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.producer.transaction_manager import NO_PRODUCER_EPOCH, NO_PRODUCER_ID, PidAndEpoch

from qaf_shared.envelope import Envelope
from qaf_shared.metrics import OUTBOX_PENDING, OUTBOX_PRUNED, OUTBOX_PUBLISHED, OUTBOX_QUARANTINED

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
# Rows one prune statement deletes: short enough not to hold up publishing, and a backlog (the first
# prune after an upgrade, or a long retention cut short) goes in successive statements.
PRUNE_BATCH_SIZE = 10_000
PRUNE_INTERVAL_S = 300.0
# How often the gauges are recounted from the table (the lock holder also sets pending as it publishes).
GAUGE_REFRESH_S = 5.0
LOCK_RETRY_S = 2.0
# Pause before reconnecting after the database or the broker failed.
RETRY_PAUSE_S = 2.0
DEFAULT_RETENTION_S = 7 * 86400.0

# Refusals no retry can change, because the record itself is the cause. Everything else is passing or
# needs the platform fixed, not the row: timeouts, leader elections, not enough in-sync replicas,
# network errors, a missing topic, authorisation. Those stop the batch, to be retried.
PERMANENT_REFUSALS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,  # over the producer's max_request_size, or the topic's max.message.bytes
    RecordListTooLargeError,  # the record batch is over the broker's segment size
    RecordTooLargeError,  # aiokafka's own name for a record over a size limit
    CorruptRecordException,  # failed the broker's CRC or format check
    InvalidTopicError,  # an illegal topic name, or an internal topic
)

CHANNEL_PREFIX = "qaf_outbox_"


def _channel(schema: str) -> str:
    return CHANNEL_PREFIX + schema


async def enqueue(conn: asyncpg.Connection, *envelopes: Envelope[Any]) -> None:
    """Add events to the outbox inside the caller's transaction. Idempotent on event_id."""
    if not envelopes:
        return
    await conn.executemany(
        """
        INSERT INTO outbox (event_id, topic, key, event_type, body)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING
        """,
        [
            (e.event_id, e.topic.name, e.payload.partition_key(), e.event_type, e.to_bytes())
            for e in envelopes
        ],
    )
    await _notify(conn)


async def _notify(conn: asyncpg.Connection) -> None:
    # Delivered at commit, so the relay wakes only for events that exist.
    await conn.execute(f"SELECT pg_notify('{CHANNEL_PREFIX}' || current_schema(), '')")


async def quarantined(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The rows set aside, oldest first: id, event_id, topic, event_type, size (bytes), quarantined_at, reason."""
    return await conn.fetch(
        """
        SELECT id, event_id, topic, event_type, octet_length(body) AS size, quarantined_at, reason
        FROM outbox_quarantine ORDER BY id
        """
    )


async def requeue(conn: asyncpg.Connection, quarantine_id: int) -> int | None:
    """Move a quarantined row back into the outbox, as its newest row. Returns its outbox id (None: no such row).

    It is relayed like any other row; refused again, it comes back to the quarantine under that id.
    """
    async with conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM outbox_quarantine WHERE id = $1 RETURNING event_id, topic, key, event_type, body, created_at",
            quarantine_id,
        )
        if row is None:
            return None
        already = await conn.fetchval("SELECT id FROM outbox WHERE event_id = $1", row["event_id"])
        if already is not None:
            # Enqueued again since: a second copy would publish the event twice (this rolls back the delete).
            raise ValueError(f"event {row['event_id']} is already in the outbox (row {already})")
        outbox_id: int = await conn.fetchval(
            """
            INSERT INTO outbox (event_id, topic, key, event_type, body, created_at)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
            """,
            row["event_id"], row["topic"], row["key"], row["event_type"], row["body"], row["created_at"],
        )
        await _notify(conn)
    return outbox_id


@dataclass
class _Round:
    """What became of one batch: acknowledged ids, rows refused for good with why, a passing failure."""

    acked: list[int] = field(default_factory=list)
    refused: list[tuple[asyncpg.Record, str]] = field(default_factory=list)
    failure: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        self.failure = self.failure or exc


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        producer: AIOKafkaProducer,
        poll_interval_s: float = 1.0,
        topic_prefix: str = "",
        retention_s: float = DEFAULT_RETENTION_S,
        prune_interval_s: float = PRUNE_INTERVAL_S,
    ) -> None:
        self._topic_prefix = topic_prefix
        self._dsn = dsn
        self._schema = schema
        self._producer = producer
        self._poll_interval_s = poll_interval_s
        self._retention_s = retention_s
        self._prune_interval_s = prune_interval_s
        self._next_prune = 0.0
        self._next_gauges = 0.0
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()

    def wake(self, *_: Any) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped, reconnecting after database or broker failures."""
        while not self._stopped.is_set():
            try:
                await self._run_connected()
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncio.TimeoutError,
                KafkaError,
            ) as exc:
                log.warning("outbox.relay_interrupted", error=type(exc).__name__)
            except Exception:
                log.exception("outbox.relay_failed")
            if not self._stopped.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=RETRY_PAUSE_S)

    async def _run_connected(self) -> None:
        conn = await asyncpg.connect(self._dsn, server_settings={"search_path": self._schema})
        try:
            if not await self._take_lock(conn):
                return
            await conn.add_listener(_channel(self._schema), self.wake)
            while not self._stopped.is_set():
                # Cleared before looking, so a NOTIFY arriving while a batch is sent is not lost.
                self._wake.clear()
                moved = await self.publish_pending(conn)
                more_to_prune = await self._prune_if_due(conn)
                await self._refresh_gauges_if_due(conn)
                if moved or more_to_prune:
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _take_lock(self, conn: asyncpg.Connection) -> bool:
        """Wait for the schema's relay lock. False when stopped first."""
        # Only one relay per schema publishes, so events keep their order across instances.
        while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"outbox:{self._schema}"):
            # Each instance serves its own /metrics: while another publishes, this one's gauges follow
            # the table, or they would show whatever this instance last saw.
            await self.refresh_gauges(conn)
            if self._stopped.is_set():
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=LOCK_RETRY_S)
        await self.refresh_gauges(conn)
        return True

    async def refresh_gauges(self, conn: asyncpg.Connection) -> None:
        """Set the pending and quarantined gauges from the tables (pending counts on its partial index)."""
        row = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS pending,
                   (SELECT count(*) FROM outbox_quarantine) AS quarantined
            """
        )
        OUTBOX_PENDING.labels(self._schema).set(row["pending"])
        OUTBOX_QUARANTINED.labels(self._schema).set(row["quarantined"])
        self._next_gauges = asyncio.get_running_loop().time() + GAUGE_REFRESH_S

    async def _refresh_gauges_if_due(self, conn: asyncpg.Connection) -> None:
        # Rows requeued or quarantined by hand change the count without the relay knowing.
        if asyncio.get_running_loop().time() >= self._next_gauges:
            await self.refresh_gauges(conn)

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of committed, unpublished events in order. Returns how many left the queue.

        Rows refused for good are quarantined instead of published. A passing failure is raised once
        what was acknowledged before it has been marked published, so only the rest is sent again.
        """
        rows = await conn.fetch(
            """
            SELECT id, event_id, topic, key, event_type, body
            FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1
            """,
            BATCH_SIZE,
        )
        if not rows:
            OUTBOX_PENDING.labels(self._schema).set(0)
            return 0
        outcome = await self._send_counting(conn, rows)
        async with conn.transaction():
            if outcome.acked:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", outcome.acked
                )
            if outcome.refused:
                await self._quarantine(conn, outcome.refused)
        OUTBOX_PUBLISHED.labels(self._schema).inc(len(outcome.acked))
        if outcome.refused:
            await self._report_quarantined(conn, outcome.refused)
        # A short batch that went through whole emptied the outbox; otherwise there is something to count.
        if len(rows) < BATCH_SIZE and outcome.failure is None:
            OUTBOX_PENDING.labels(self._schema).set(0)
        else:
            OUTBOX_PENDING.labels(self._schema).set(
                await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            )
        if outcome.failure is not None:
            raise outcome.failure
        return len(outcome.acked) + len(outcome.refused)

    async def _send_counting(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> _Round:
        """Send the batch, recounting the gauges meanwhile if the broker holds it up.

        While Kafka is unreachable the producer retries without end and the batch waits with it: the
        pending gauge must go on rising then, it is what says Kafka is unreachable. The connection is
        free meanwhile (sending does not use it).
        """
        sending = asyncio.ensure_future(self._send(rows))
        try:
            while not (await asyncio.wait({sending}, timeout=GAUGE_REFRESH_S))[0]:
                await self.refresh_gauges(conn)
            return sending.result()
        finally:
            sending.cancel()  # a no-op once done; stops the sends when the relay itself is cancelled

    async def _send(self, rows: Sequence[asyncpg.Record]) -> _Round:
        outcome = _Round()
        in_flight: list[tuple[asyncpg.Record, asyncio.Future[Any]]] = []
        for row in rows:
            try:
                in_flight.append((row, await self._send_one(row)))
            except PERMANENT_REFUSALS as exc:
                outcome.refused.append((row, self._reason(exc, by_broker=False)))
            except Exception as exc:
                # Passing: nothing after this row is sent, so the next round resumes in order.
                outcome.fail(exc)
                break
        results = await asyncio.gather(*(future for _, future in in_flight), return_exceptions=True)
        suspects = []
        out_of_sequence = False
        for (row, _), result in zip(in_flight, results, strict=True):
            if not isinstance(result, BaseException):
                outcome.acked.append(row["id"])
            elif isinstance(result, PERMANENT_REFUSALS):
                suspects.append(row)
            else:
                out_of_sequence |= isinstance(result, OutOfOrderSequenceNumber)
                outcome.fail(result)
        if suspects or out_of_sequence:
            self._renew_producer_id()
        if suspects:
            await self._send_alone(suspects, outcome)
        return outcome

    async def _send_alone(self, suspects: list[asyncpg.Record], outcome: _Round) -> None:
        """Send rows again one at a time, to tell a row refused for its own sake from its batch mates.

        The broker refuses a whole produce batch for one bad record; a row that goes through alone was
        only in bad company.
        """
        for row in suspects:
            try:
                future = await self._send_one(row)
                await future
            except PERMANENT_REFUSALS as exc:
                self._renew_producer_id()
                outcome.refused.append((row, self._reason(exc, by_broker=True)))
            except Exception as exc:
                outcome.fail(exc)
                return
            else:
                outcome.acked.append(row["id"])

    async def _send_one(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        return await self._producer.send(
            self._topic_prefix + row["topic"],
            value=bytes(row["body"]),
            key=row["key"].encode(),
            headers=[("event_type", row["event_type"].encode())],
        )

    def _renew_producer_id(self) -> None:
        """Give the idempotent producer a new producer id after the broker refused a batch for good.

        aiokafka (0.14) counts a refused batch's sequence numbers as used although the broker never
        appended them, so every later batch to that partition would fail with OutOfOrderSequenceNumber,
        for good (the Java client bumps its epoch here). Under a new id the sequences start again;
        batches already built keep the id they were built with, so nothing is lost or doubled.
        """
        manager = getattr(self._producer, "_txn_manager", None)
        if manager is None or manager.transactional_id is not None:
            return  # not idempotent (no sequences), or transactional (not how the platform produces)
        manager._pid_and_epoch = PidAndEpoch(NO_PRODUCER_ID, NO_PRODUCER_EPOCH)
        manager._pid_waiter = asyncio.get_running_loop().create_future()
        manager._sequence_numbers.clear()
        log.info("outbox.producer_id_renewed")

    def _reason(self, exc: KafkaError, *, by_broker: bool) -> str:
        """Why a row was set aside, in words ops can act on (which limit, whose)."""
        if by_broker and isinstance(exc, BrokerResponseError):
            return f"refused by the broker: [Error {exc.errno}] {exc.message}: {exc.description}"
        detail = str(exc.args[0]) if exc.args else type(exc).__name__
        limit = getattr(self._producer, "_max_request_size", None)
        if not by_broker and isinstance(exc, MessageSizeTooLargeError) and limit is not None:
            detail += f" ({limit} bytes)"  # aiokafka names the row's size, not the limit
        return f"refused by the {'broker' if by_broker else 'producer'}: {type(exc).__name__}: {detail}"

    async def _quarantine(self, conn: asyncpg.Connection, refused: list[tuple[asyncpg.Record, str]]) -> None:
        """Move refused rows to outbox_quarantine, inside the caller's transaction."""
        await conn.executemany(
            """
            WITH moved AS (DELETE FROM outbox WHERE id = $1 RETURNING *)
            INSERT INTO outbox_quarantine
                (id, event_id, topic, key, event_type, body, created_at, published_at, reason)
            SELECT id, event_id, topic, key, event_type, body, created_at, published_at, $2 FROM moved
            """,
            [(row["id"], reason) for row, reason in refused],
        )

    async def _report_quarantined(self, conn: asyncpg.Connection, refused: list[tuple[asyncpg.Record, str]]) -> None:
        # The body stays out of the log: it is the event itself, and the size says what went wrong.
        for row, reason in refused:
            log.error(
                "outbox.quarantined",
                event_id=str(row["event_id"]),
                topic=row["topic"],
                event_type=row["event_type"],
                size=len(row["body"]),
                reason=reason,
            )
        OUTBOX_QUARANTINED.labels(self._schema).set(await conn.fetchval("SELECT count(*) FROM outbox_quarantine"))

    async def prune(self, conn: asyncpg.Connection) -> int:
        """Delete up to PRUNE_BATCH_SIZE published rows older than the retention. Returns how many."""
        status = await conn.execute(
            """
            DELETE FROM outbox WHERE id IN (
                SELECT id FROM outbox
                WHERE published_at < now() - make_interval(secs => $1)
                ORDER BY published_at LIMIT $2
            )
            """,
            float(self._retention_s),
            PRUNE_BATCH_SIZE,
        )
        deleted = int(status.split()[-1])
        if deleted:
            OUTBOX_PRUNED.labels(self._schema).inc(deleted)
            log.info("outbox.pruned", rows=deleted)
        return deleted

    async def _prune_if_due(self, conn: asyncpg.Connection) -> bool:
        """Prune when due. True when a full batch went: more are waiting, so the next round goes on."""
        now = asyncio.get_running_loop().time()
        if now < self._next_prune:
            return False
        full = await self.prune(conn) == PRUNE_BATCH_SIZE
        self._next_prune = now if full else now + self._prune_interval_s
        return full
