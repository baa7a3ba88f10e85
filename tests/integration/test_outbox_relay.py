"""The outbox relay on the real broker and database: a row Kafka refuses for good is quarantined instead
of blocking the rows behind it, published rows are pruned after their retention, the quarantine is
listed and requeued from the command line, and the pending gauge is right on every instance."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, UnknownError
from prometheus_client import REGISTRY

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.contracts import CaseOpened
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.envelope import Envelope, decode, new_envelope
from qaf_shared.kafka import OutboxRelay, client_options, enqueue, ensure_topics, make_producer
from qaf_shared.kafka.connection import MAX_MESSAGE_BYTES
from qaf_shared.kafka import outbox as outbox_module
from qaf_shared.kafka.outbox import PRUNE_BATCH_SIZE
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support.kafka import read_topic
from tests.support.probe import MIGRATIONS, probe_definition

pytestmark = pytest.mark.integration

# The probe's own role password: the CLI migrates with the probe's settings, and must find the same role.
PROBE_PASSWORD = "qaf-dev-password"


def case_opened(case_id: str) -> Envelope[Any]:
    return new_envelope(
        CaseOpened(case_id=case_id, service=Service.FIRST_RESPONSE, team_id="T-FR-1", worker_id="W-1",
                   team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
        source="probe",
    )


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": "probe"})


def pruned_total() -> float:
    return REGISTRY.get_sample_value("qaf_outbox_pruned_total", {"service": "probe"}) or 0.0


async def insert_raw(conn: asyncpg.Connection, key: str, body: bytes, *, topic: str = topics.CASES.name) -> UUID:
    """An outbox row as a service would write it, with a body of our choosing (e.g. too large to send)."""
    event_id = uuid4()
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, event_type, body) VALUES ($1, $2, $3, 'case-opened', $4)",
        event_id, topic, key, body,
    )
    return event_id


@dataclass
class Probe:
    url: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    kafka: KafkaSettings

    def relay(self, **options: Any) -> OutboxRelay:
        return OutboxRelay(dsn=self.url, schema="probe", producer=options.pop("producer", self.producer),
                           poll_interval_s=0.2, topic_prefix=self.kafka.topic_prefix, **options)


@pytest.fixture
async def probe(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Probe]:
    await ensure_topics(kafka_settings)
    url = await migrate_service(database_url, "probe", PROBE_PASSWORD, MIGRATIONS)
    pool = await connect_pool(url, "probe")
    producer = make_producer(kafka_settings)
    await producer.start()
    try:
        yield Probe(url, pool, producer, kafka_settings)
    finally:
        await producer.stop()
        await pool.close()


@pytest.fixture
async def relaying(probe: Probe) -> AsyncIterator[OutboxRelay]:
    relay = probe.relay()
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        relay.stop()
        await task


def by_key(records: list[Any]) -> dict[str, list[UUID]]:
    """Event ids per key in the order the topic holds them (a key's records share one partition)."""
    order: dict[str, list[UUID]] = {}
    for record in records:
        order.setdefault(record.key.decode(), []).append(decode(record.value).event_id)
    return order


async def set_topic_limit(settings: KafkaSettings, topic: str, max_message_bytes: int) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic_prefix + topic,
                                                  {"max.message.bytes": str(max_message_bytes)})])
    finally:
        await admin.close()


def fresh_outbox_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay's logger as configured now (structlog caches a logger's configuration on first use)."""
    monkeypatch.setattr(outbox_module, "log", structlog.get_logger(outbox_module.__name__))


async def test_a_row_over_the_producers_limit_is_quarantined_and_the_rows_around_it_flow_in_order(
    probe: Probe, relaying: OutboxRelay, capfd: pytest.CaptureFixture[str], service_logs: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh_outbox_logger(monkeypatch)
    keys = ["C-1", "C-2", "C-3"]
    before = [case_opened(keys[i % 3]) for i in range(9)]
    after = [case_opened(keys[i % 3]) for i in range(9)]
    too_large = b"x" * (MAX_MESSAGE_BYTES + 1)
    async with probe.pool.acquire() as conn, conn.transaction():  # one commit: the relay sees one batch
        await enqueue(conn, *before)
        refused_id = await insert_raw(conn, "C-2", too_large)
        await enqueue(conn, *after)

    sent = before + after
    records = await read_topic(probe.kafka, topics.CASES.name, expect=len(sent))
    expected: dict[str, list[UUID]] = {}
    for envelope in sent:
        expected.setdefault(envelope.key.decode(), []).append(envelope.event_id)
    assert by_key(records) == expected  # all of them, each key in the order written, C-2's too

    # the broker acknowledged the rows before the relay's transaction that marks them (and quarantines) commits
    quarantined = await eventually(lambda: probe.pool.fetch(
        "SELECT event_id, key, octet_length(body) AS size, reason FROM outbox_quarantine"), timeout=30)
    assert [(r["event_id"], r["key"], r["size"]) for r in quarantined] == [(refused_id, "C-2", len(too_large))]
    assert "max_request_size" in quarantined[0]["reason"] and str(MAX_MESSAGE_BYTES) in quarantined[0]["reason"]
    assert await probe.pool.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", refused_id) == 0
    assert await probe.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    # the gauges are set just after that transaction
    await eventually(lambda: gauge("qaf_outbox_quarantined") == 1 and gauge("qaf_outbox_pending") == 0, timeout=10)

    later = case_opened("C-2")
    async with probe.pool.acquire() as conn, conn.transaction():
        await enqueue(conn, later)
    records = await read_topic(probe.kafka, topics.CASES.name, expect=len(sent) + 1)
    assert by_key(records)["C-2"][-1] == later.event_id  # the outbox is not blocked

    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if "outbox.quarantined" in line]
    assert len(lines) == 1
    logged = lines[0]
    assert (logged["event_id"], logged["topic"], logged["event_type"], logged["size"]) == (
        str(refused_id), topics.CASES.name, "case-opened", len(too_large))
    assert "max_request_size" in logged["reason"] and "body" not in logged and "xxxx" not in json.dumps(logged)


async def test_a_row_the_broker_refuses_is_quarantined_and_later_rows_of_its_partition_still_go(
    probe: Probe, relaying: OutboxRelay
) -> None:
    # Ops lowered the topic's limit below what the producer allows: only the broker can refuse the row.
    await set_topic_limit(probe.kafka, topics.CASES.name, 100_000)
    warm_up = case_opened("C-1")  # the producer has written to the partition before (sequence state)
    async with probe.pool.acquire() as conn, conn.transaction():
        await enqueue(conn, warm_up)
    await read_topic(probe.kafka, topics.CASES.name, expect=1)
    rows = [case_opened("C-1"), case_opened("C-9")]
    more = [case_opened("C-1"), case_opened("C-9"), case_opened("C-1")]
    async with probe.pool.acquire() as conn, conn.transaction():
        await enqueue(conn, *rows)
        refused_id = await insert_raw(conn, "C-1", b"y" * 200_000)
        await enqueue(conn, *more)

    sent = [warm_up, *rows, *more]
    records = await read_topic(probe.kafka, topics.CASES.name, expect=len(sent))
    expected: dict[str, list[UUID]] = {}
    for envelope in sent:
        expected.setdefault(envelope.key.decode(), []).append(envelope.event_id)
    assert by_key(records) == expected
    await eventually(lambda: probe.pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
    reason = await probe.pool.fetchval("SELECT reason FROM outbox_quarantine WHERE event_id = $1", refused_id)
    assert reason.startswith("refused by the broker") and "MESSAGE_SIZE_TOO_LARGE" in reason

    after = case_opened("C-1")  # the producer's sequence for that partition was put right
    async with probe.pool.acquire() as conn, conn.transaction():
        await enqueue(conn, after)
    records = await read_topic(probe.kafka, topics.CASES.name, expect=len(sent) + 1)
    assert by_key(records)["C-1"][-1] == after.event_id


async def test_published_rows_older_than_the_retention_are_pruned_in_bounded_batches(probe: Probe) -> None:
    day = 86400
    async with probe.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO outbox (event_id, topic, key, event_type, body, created_at, published_at)
            SELECT gen_random_uuid(), 'qaf.cases', 'OLD-' || g, 'case-opened', '\\x00',
                   now() - interval '3 days', now() - interval '2 days'
            FROM generate_series(1, $1) g
            """,
            PRUNE_BATCH_SIZE + 5,
        )
        kept = {}
        kept["recent"] = await insert_raw(conn, "RECENT", b"{}")
        await conn.execute("UPDATE outbox SET published_at = now() - interval '23 hours' WHERE key = 'RECENT'")
        kept["unpublished"] = await insert_raw(conn, "UNPUBLISHED", b"{}")
        await conn.execute("UPDATE outbox SET created_at = now() - interval '30 days' WHERE key = 'UNPUBLISHED'")

        # The prune finds its rows by index (the planner is told to avoid a full scan if it can).
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
            "WHERE published_at < now() - make_interval(secs => 86400.0) ORDER BY published_at LIMIT 10000)"))
        assert "outbox_published" in plan, plan
        await conn.execute("RESET enable_seqscan")

        relay = probe.relay(retention_s=1 * day)
        counted = pruned_total()
        assert await relay.prune(conn) == PRUNE_BATCH_SIZE  # one bounded statement...
        assert await relay.prune(conn) == 5  # ...and the rest in the next
        assert await relay.prune(conn) == 0
        assert pruned_total() - counted == PRUNE_BATCH_SIZE + 5
        remaining = {r["key"]: r["event_id"] for r in await conn.fetch("SELECT key, event_id FROM outbox")}
        assert remaining == {"RECENT": kept["recent"], "UNPUBLISHED": kept["unpublished"]}

        # The running relay prunes by itself: as soon as it holds the lock, then every interval.
        await conn.execute("UPDATE outbox SET published_at = now() - interval '2 days' WHERE key = 'RECENT'")
    relay = probe.relay(retention_s=1 * day, prune_interval_s=0.5)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: probe.pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE key = 'RECENT'"))
        # the unpublished row was published by this relay just now: well within the retention, so kept
        assert await probe.pool.fetchval(
            "SELECT published_at IS NOT NULL FROM outbox WHERE event_id = $1", kept["unpublished"])
    finally:
        relay.stop()
        await task


async def test_the_cli_lists_the_quarantine_and_requeues_a_row_once_ops_fixed_the_cause(
    database_url: str, probe: Probe, relaying: OutboxRelay, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*argv: str) -> int:
        return service_main(lambda: probe_definition(database_url, probe.kafka), list(argv))

    await set_topic_limit(probe.kafka, topics.CASES.name, 100_000)
    body = case_opened("C-BIG").to_bytes() + b" " * 150_000  # valid JSON, padded over the topic's limit
    async with probe.pool.acquire() as conn, conn.transaction():
        event_id = await insert_raw(conn, "C-BIG", body)
    await eventually(lambda: probe.pool.fetchval("SELECT count(*) = 1 FROM outbox_quarantine"))
    quarantine_id = await probe.pool.fetchval("SELECT id FROM outbox_quarantine")

    assert await asyncio.to_thread(cli, "outbox", "quarantined") == 0
    # (the in-process relay's own log lines may share the captured output)
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"{quarantine_id}  ")]
    fields = line.split()
    assert fields[:4] == [str(quarantine_id), str(event_id), topics.CASES.name, "case-opened"]
    assert fields[4:6] == [str(len(body)), "B"]
    assert "refused by the broker" in line and "MESSAGE_SIZE_TOO_LARGE" in line

    assert await asyncio.to_thread(cli, "outbox", "requeue", str(quarantine_id + 1000)) == 1
    assert f"no quarantined row with id {quarantine_id + 1000}" in capsys.readouterr().err

    await set_topic_limit(probe.kafka, topics.CASES.name, MAX_MESSAGE_BYTES)  # ops raised it back
    assert await asyncio.to_thread(cli, "outbox", "requeue", str(quarantine_id)) == 0
    assert f"requeued {quarantine_id} as outbox row " in capsys.readouterr().out
    (record,) = await read_topic(probe.kafka, topics.CASES.name, expect=1)
    assert record.value == body and record.key == b"C-BIG"
    assert await probe.pool.fetchval("SELECT count(*) FROM outbox_quarantine") == 0
    await eventually(lambda: gauge("qaf_outbox_quarantined") == 0, timeout=15)

    assert await asyncio.to_thread(cli, "outbox", "quarantined") == 0
    captured = capsys.readouterr()
    assert str(event_id) not in captured.out and "quarantine is empty" in captured.err


async def test_requeue_refuses_an_event_already_back_in_the_outbox(
    database_url: str, probe: Probe, capsys: pytest.CaptureFixture[str]
) -> None:
    async with probe.pool.acquire() as conn:
        event_id = await insert_raw(conn, "C-AGAIN", b"{}")
        await conn.execute(
            """
            INSERT INTO outbox_quarantine (id, event_id, topic, key, event_type, body, created_at, reason)
            VALUES (424242, $1, 'qaf.cases', 'C-AGAIN', 'case-opened', '\\x00', now(), 'test')
            """,
            event_id,
        )
    code = await asyncio.to_thread(
        service_main, lambda: probe_definition(database_url, probe.kafka), ["outbox", "requeue", "424242"])
    assert code == 2 and f"event {event_id} is already in the outbox" in capsys.readouterr().err
    assert await probe.pool.fetchval("SELECT count(*) FROM outbox_quarantine") == 1  # left as it was


async def test_an_instance_waiting_for_the_relay_lock_keeps_the_pending_gauge_true(probe: Probe) -> None:
    holder = await asyncpg.connect(probe.url)  # stands for the instance that publishes
    await holder.execute("SELECT pg_advisory_lock(hashtext('outbox:probe'))")
    relay = probe.relay()
    task = asyncio.create_task(relay.run())
    try:
        async with probe.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, *(case_opened(f"C-{i}") for i in range(7)))
        await eventually(lambda: gauge("qaf_outbox_pending") == 7, timeout=15)
        async with probe.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, *(case_opened(f"C-{i}") for i in range(3)))
            await conn.execute(
                """
                INSERT INTO outbox_quarantine (id, event_id, topic, key, event_type, body, created_at, reason)
                VALUES (1000001, $1, 'qaf.cases', 'C-X', 'case-opened', '\\x00', now(), 'test')
                """,
                uuid4(),
            )
        await eventually(lambda: gauge("qaf_outbox_pending") == 10 and gauge("qaf_outbox_quarantined") == 1,
                         timeout=15)
        assert await probe.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") == 0
        await holder.close()  # the publishing instance goes: this one takes over and empties the outbox
        await eventually(lambda: gauge("qaf_outbox_pending") == 0, timeout=15)
        assert await probe.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        relay.stop()
        await task
        if not holder.is_closed():
            await holder.close()


# The relay's decisions when Kafka fails in a given way, on a stand-in producer (the real broker cannot
# be made to fail at one chosen record).

Verdict = Callable[[str, int], tuple[str, BaseException | None] | None]


class ScriptedProducer:
    """Fails the records whose key and attempt the verdict names: at send(), or on their future; or never
    answers for them, as while the brokers are unreachable."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.sent: list[str] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[Any]) -> asyncio.Future[None]:
        name = key.decode()
        attempt = self.sent.count(name) + 1
        self.sent.append(name)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        match self.verdict(name, attempt):
            case ("send", exc):
                raise exc
            case ("ack", exc):
                future.set_exception(exc)
            case ("hang", _):
                pass
            case None:
                future.set_result(None)
        return future


async def scripted_rows(pool: asyncpg.Pool, count: int) -> list[str]:
    keys = [f"R{i}" for i in range(1, count + 1)]
    async with pool.acquire() as conn:
        for key in keys:
            await insert_raw(conn, key, key.encode())
    return keys


async def published(pool: asyncpg.Pool) -> list[str]:
    return [r["key"] for r in await pool.fetch("SELECT key FROM outbox WHERE published_at IS NOT NULL ORDER BY id")]


async def test_a_passing_failure_at_send_stops_the_batch_after_recording_what_was_acknowledged(probe: Probe) -> None:
    await scripted_rows(probe.pool, 5)
    down = ScriptedProducer(lambda key, attempt: ("send", KafkaConnectionError()) if key == "R3" else None)
    relay = probe.relay(producer=down)
    async with probe.pool.acquire() as conn:
        with pytest.raises(KafkaConnectionError):
            await relay.publish_pending(conn)
        assert down.sent == ["R1", "R2", "R3"]  # nothing after the failure was sent
        assert await published(probe.pool) == ["R1", "R2"]
        assert await probe.pool.fetchval("SELECT count(*) FROM outbox_quarantine") == 0
        up = ScriptedProducer(lambda key, attempt: None)
        assert await probe.relay(producer=up).publish_pending(conn) == 3
        assert up.sent == ["R3", "R4", "R5"]
    assert await published(probe.pool) == ["R1", "R2", "R3", "R4", "R5"]


async def test_a_failed_acknowledgement_not_known_to_be_permanent_is_retried_not_quarantined(probe: Probe) -> None:
    await scripted_rows(probe.pool, 4)
    flaky = ScriptedProducer(lambda key, attempt: ("ack", UnknownError()) if key == "R2" else None)
    async with probe.pool.acquire() as conn:
        with pytest.raises(UnknownError):
            await probe.relay(producer=flaky).publish_pending(conn)
    assert await published(probe.pool) == ["R1", "R3", "R4"]  # acknowledged: not sent again needlessly
    assert await probe.pool.fetchval("SELECT count(*) FROM outbox_quarantine") == 0


async def test_of_a_batch_the_broker_refused_only_the_row_refused_alone_is_quarantined(probe: Probe) -> None:
    await scripted_rows(probe.pool, 5)

    def broker(key: str, attempt: int) -> tuple[str, BaseException | None] | None:
        refused_together = key in ("R2", "R3", "R4") and attempt == 1  # one produce batch, refused whole
        if refused_together or (key == "R3"):
            return ("ack", MessageSizeTooLargeError())
        return None

    producer = ScriptedProducer(broker)
    async with probe.pool.acquire() as conn:
        assert await probe.relay(producer=producer).publish_pending(conn) == 5
    assert producer.sent == ["R1", "R2", "R3", "R4", "R5", "R2", "R3", "R4"]
    assert await published(probe.pool) == ["R1", "R2", "R4", "R5"]
    (row,) = await probe.pool.fetch("SELECT key, reason FROM outbox_quarantine")
    assert row["key"] == "R3" and row["reason"].startswith("refused by the broker: [Error 10] MESSAGE_SIZE_TOO_LARGE")


async def test_the_publishing_instance_keeps_counting_pending_rows_while_the_broker_holds_a_batch_up(
    probe: Probe,
) -> None:
    unreachable = ScriptedProducer(lambda key, attempt: ("hang", None))
    relay = probe.relay(producer=unreachable)
    task = asyncio.create_task(relay.run())
    try:
        async with probe.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, *(case_opened(f"C-{i}") for i in range(5)))
        await eventually(lambda: len(unreachable.sent) == 5)  # the batch is out, and waits
        async with probe.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, *(case_opened(f"C-{i}") for i in range(3)))
        await eventually(lambda: gauge("qaf_outbox_pending") == 8, timeout=15)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await probe.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") == 0
