"""The transactional outbox: events written with the change that caused them, relayed after commit.

`enqueue` runs inside the caller's transaction; a rolled-back change leaves nothing to publish.
`OutboxRelay` publishes committed rows in order, one relay per schema at a time (a session
advisory lock), woken by NOTIFY and by a slow poll as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from qaf_shared.envelope import Envelope
from qaf_shared.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)

BATCH_SIZE = 500


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
    # Delivered at commit, so the relay wakes only for events that exist.
    await conn.execute(f"SELECT pg_notify('{CHANNEL_PREFIX}' || current_schema(), '')")


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        producer: AIOKafkaProducer,
        poll_interval_s: float = 1.0,
        topic_prefix: str = "",
    ) -> None:
        self._topic_prefix = topic_prefix
        self._dsn = dsn
        self._schema = schema
        self._producer = producer
        self._poll_interval_s = poll_interval_s
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
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                log.warning("outbox.relay_interrupted", error=type(exc).__name__)
            except Exception:
                log.exception("outbox.relay_failed")
            if not self._stopped.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=2.0)

    async def _run_connected(self) -> None:
        conn = await asyncpg.connect(self._dsn, server_settings={"search_path": self._schema})
        try:
            # Only one relay per schema publishes, so events keep their order across instances.
            while not await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", f"outbox:{self._schema}"
            ):
                if self._stopped.is_set():
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=2.0)
            await conn.add_listener(_channel(self._schema), self.wake)
            while not self._stopped.is_set():
                published = await self.publish_pending(conn)
                if published:
                    continue
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of committed, unpublished events in order. Returns how many."""
        rows = await conn.fetch(
            "SELECT id, topic, key, event_type, body FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            BATCH_SIZE,
        )
        if not rows:
            OUTBOX_PENDING.labels(self._schema).set(0)
            return 0
        futures = []
        for row in rows:
            futures.append(
                await self._producer.send(
                    self._topic_prefix + row["topic"],
                    value=bytes(row["body"]),
                    key=row["key"].encode(),
                    headers=[("event_type", row["event_type"].encode())],
                )
            )
        await asyncio.gather(*futures)
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
        )
        OUTBOX_PUBLISHED.labels(self._schema).inc(len(rows))
        # A short batch emptied the outbox; only after a full one is there anything left to count.
        pending = (
            0
            if len(rows) < BATCH_SIZE
            else await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )
        OUTBOX_PENDING.labels(self._schema).set(pending)
        return len(rows)
