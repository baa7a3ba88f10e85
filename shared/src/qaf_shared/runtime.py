"""One service process: migrations, pool, Kafka consumer and outbox relay, HTTP app; then a clean stop.

A service's composition root describes itself as a `ServiceDefinition`; `ServiceRuntime` does the
plumbing in the same order for every service, and stops gracefully: the in-flight message is
finished and committed before the consumer leaves its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from qaf_shared import contracts  # noqa: F401  (registers every contract)
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.http import TokenStore, create_http_app
from qaf_shared.kafka import (
    AfterCommit,
    BatchHandler,
    EventConsumer,
    Handlers,
    OutboxRelay,
    Preparer,
    RetryPolicy,
    ensure_topics,
    make_broker,
    make_producer,
)
from qaf_shared.logging import configure_logging
from qaf_shared.settings import ServiceSettings
from qaf_shared.topics import Topic

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    """Topics one consumer group reads, and the handler for each event type it applies."""

    consumer: str
    topics: tuple[Topic, ...]
    handlers: Handlers
    # Optional: applies a whole batch of fresh events at once; the per-event handlers still serve
    # when a batch must be split to dead-letter one event.
    batch_handler: BatchHandler | None = None
    # Optional, with batch_handler: pure work per event done before the transaction; its results are
    # what batch_handler receives.
    prepare: Preparer | None = None
    # Optional: called after each message (or batch) has been handled and its transaction committed,
    # e.g. to wake a loop that works on what the handlers changed instead of waiting for its next round.
    on_handled: Callable[[], None] | None = None
    # Optional: called with a transaction's records right after it committed, before their offsets are
    # (fault injection in tests, instrumentation).
    after_commit: AfterCommit | None = None


# Python's default collector thresholds (700, 10, 10) suit small scripts: a consumer that holds a batch
# of a few thousand decoded events (each a dozen objects) triggers collections that traverse the whole
# heap again and again, which made decoding an event ~3x slower (bench/bench_reporting.py). The
# collector still runs (reference cycles are freed), about seventy times less often.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set the garbage collector's thresholds for batch consumption (process-wide, idempotent)."""
    gc.set_threshold(*GC_THRESHOLDS)


BackgroundTask = Callable[["ServiceRuntime"], Awaitable[None]]


def periodic(work: BackgroundTask, interval_s: float, *, name: str | None = None) -> BackgroundTask:
    """A background task that runs `work` at once, then every `interval_s` seconds until the service stops.

    The runtime keeps it alive across failures (`ServiceRuntime._supervise`); a stop interrupts the wait.
    """

    async def every(runtime: ServiceRuntime) -> None:
        while not runtime.stopping.is_set():
            await work(runtime)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(runtime.stopping.wait(), timeout=interval_s)

    every.__name__ = every.__qualname__ = name or getattr(work, "__name__", "periodic")
    return every


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    settings: ServiceSettings
    migrations_dir: Path
    subscriptions: Callable[[ServiceRuntime], list[Subscription]] = lambda _: []
    routers: list[APIRouter] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition) -> None:
        self.definition = definition
        self.settings = definition.settings
        self.name = definition.name
        self.pool: asyncpg.Pool | None = None
        self.database_url: str | None = None
        self.producer: AIOKafkaProducer | None = None
        self.broker: KafkaBroker | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.stopping = asyncio.Event()

    def event_consumer(
        self, subscription: Subscription, pool: asyncpg.Pool, producer: AIOKafkaProducer
    ) -> EventConsumer:
        """The idempotent consumer that applies `subscription` (the service's own, or a replay's)."""
        return EventConsumer(
            name=subscription.consumer,
            pool=pool,
            producer=producer,
            handlers=subscription.handlers,
            retry=RetryPolicy(
                backoff_s=self.settings.consumer_retry_backoff_s,
                backoff_max_s=self.settings.consumer_retry_backoff_max_s,
                max_attempts=self.settings.consumer_retry_max_attempts,
                max_duration_s=self.settings.consumer_retry_max_duration_s,
            ),
            topic_prefix=self.settings.kafka.topic_prefix,
            batch_handler=subscription.batch_handler,
            prepare=subscription.prepare,
            after_commit=subscription.after_commit,
        )

    def consumer_group(self, consumer: str) -> str:
        prefix = self.settings.kafka.topic_prefix
        group = f"qaf-{self.name}" if consumer == self.name else f"qaf-{self.name}.{consumer}"
        return prefix + group

    async def start(self) -> None:
        settings = self.settings
        tune_gc()
        self.database_url = await migrate_service(
            settings.database_url,
            self.name,
            settings.db_role_password.get_secret_value(),
            self.definition.migrations_dir,
        )
        self.pool = await connect_pool(self.database_url, self.name, max_size=8)
        await ensure_topics(settings.kafka)
        self.producer = make_producer(settings.kafka)
        await self.producer.start()
        self.broker = make_broker(
            settings.kafka, client_id=f"qaf-{self.name}", graceful_timeout=settings.graceful_timeout_s
        )
        for subscription in self.definition.subscriptions(self):
            consumer = self.event_consumer(subscription, self.pool, self.producer)
            self.consumers.append(consumer)
            self._subscribe(consumer, subscription)
        await self.broker.start()
        self.relay = OutboxRelay(
            dsn=self.database_url,
            schema=self.name,
            producer=self.producer,
            poll_interval_s=settings.outbox_poll_interval_s,
            topic_prefix=settings.kafka.topic_prefix,
            retention_s=settings.outbox_retention_days * 86400,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox"))
        for task in self.definition.background:
            self._tasks.append(asyncio.create_task(self._supervise(task), name=f"{self.name}-{task.__name__}"))
        log.info("service.started", consumers=[c.name for c in self.consumers])

    def _subscribe(self, consumer: EventConsumer, subscription: Subscription) -> None:
        assert self.broker is not None

        async def handler(message: KafkaMessage) -> None:
            await consumer.on_message(message)
            if subscription.on_handled is not None:
                subscription.on_handled()

        self.broker.subscriber(
            *(self.settings.kafka.topic_prefix + topic.name for topic in subscription.topics),
            group_id=self.consumer_group(subscription.consumer),
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            max_poll_interval_ms=600_000,
            # FastStream fetches, joins the group and commits; EventConsumer applies. Not one FastStream
            # handler per event type: that would be one transaction per message, and no way to hold one
            # partition at a failing record. Records arrive in batches applied in one transaction each
            # (offsets after the commit); a lone record waits no longer than batch_timeout_ms.
            batch=True,
            max_records=self.settings.consumer_batch_size,
            batch_timeout_ms=self.settings.consumer_batch_timeout_ms,
        )(handler)

    async def _supervise(self, task: BackgroundTask) -> None:
        """Keep a background loop (a scheduler) alive across passing failures."""
        while not self.stopping.is_set():
            try:
                await task(self)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("service.background_failed", task=task.__name__)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=5)

    async def stop(self) -> None:
        self.stopping.set()
        if self.broker is not None:
            await self.broker.stop()  # finishes the in-flight message, then leaves the group
        if self.relay is not None:
            self.relay.stop()
        for task in self._tasks:
            if task.get_name().endswith("-outbox"):
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=5)
            else:
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await self.pool.close()
        log.info("service.stopped")

    async def readiness(self) -> dict[str, str]:
        checks = {"postgres": "down", "kafka": "down"}
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.fetchval("SELECT 1"), timeout=2)
                checks["postgres"] = "ok"
            except Exception:
                pass
        if self.broker is not None:
            with contextlib.suppress(Exception):
                if await self.broker.ping(timeout=2):
                    checks["kafka"] = "ok"
        return checks

    def retrying(self) -> list[dict[str, Any]]:
        """Records the consumers hold a partition at while they retry them."""
        return [entry for consumer in self.consumers for entry in consumer.retrying()]

    def http_app(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            assert self.pool is not None
            app.state.runtime = self
            app.state.pool = self.pool
            app.state.tokens = TokenStore(self.pool)
            try:
                yield
            finally:
                await self.stop()

        return create_http_app(
            title=self.definition.title,
            description=self.definition.description,
            routers=self.definition.routers,
            lifespan=lifespan,
            readiness=self.readiness,
            retrying=self.retrying,
        )


@contextlib.asynccontextmanager
async def migrated_pool(definition: ServiceDefinition, *, max_size: int = 5) -> AsyncIterator[asyncpg.Pool]:
    """The service's schema brought up to date, and a pool on its own role (for CLI commands and tools)."""
    settings = definition.settings
    url = await migrate_service(
        settings.database_url, definition.name, settings.db_role_password.get_secret_value(), definition.migrations_dir
    )
    pool = await connect_pool(url, definition.name, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


def serve(definition: ServiceDefinition) -> None:
    """Run the service until SIGINT/SIGTERM, then stop gracefully."""
    import uvicorn

    settings = definition.settings
    configure_logging(definition.name, settings.log_level)
    runtime = ServiceRuntime(definition)
    config = uvicorn.Config(
        runtime.http_app(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
    )
    uvicorn.Server(config).run()
