"""Faults that must be retried in place, never dead-lettered, never skipped.

1. The broker stops while a poison record is being dead-lettered (its own broker, SIGKILLed).
2. PostgreSQL turns read-only mid-stream (as after a failover) and back (its own server).
3. A statement timeout on the apply: a lock held by someone else outlasts the probe's statement_timeout.

Each runs the probe service (the shared plumbing alone) in-process while events stream in, and holds
the outcome against what the broker acknowledged: lost = 0, doubled = 0, and only the poison records
dead-lettered, each exactly once.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from qaf_devstack.ephemeral import free_port_block
from qaf_devstack.kafka import KafkaCluster, wait_until_ready
from qaf_devstack.paths import VAR
from qaf_devstack.postgres import EmbeddedPostgres
from qaf_shared import topics
from qaf_shared.db import migrate_service
from qaf_shared.kafka import ensure_topics
from qaf_shared.kafka.consumer import EventConsumer
from qaf_shared.settings import KafkaSettings
from tests.conftest import eventually
from tests.faults.test_consumer_faults import events, keys
from tests.integration.test_consumer_retries import committed_to_end
from tests.support import reliability
from tests.support.kafka import produce
from tests.support.probe import MIGRATIONS, probe_definition
from tests.support.services import running
from tests.support.tally import applied_count, tally

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def retries(kind: str) -> float:
    return REGISTRY.get_sample_value("qaf_consumer_retries_total", {"consumer": "probe", "kind": kind}) or 0.0


async def stream(settings: KafkaSettings, envelopes: list[Any], *, rate: int) -> None:
    """Publish at about `rate` events a second, in small batches (each acknowledged, acks=all)."""
    step = max(1, rate // 10)
    for start in range(0, len(envelopes), step):
        await produce(settings, *envelopes[start:start + step])
        await asyncio.sleep(0.1)


@pytest.fixture
def broker() -> Iterator[KafkaCluster]:
    """A single broker of this test's own, so stopping it disturbs no other test."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("this test starts and stops its own broker")
    cluster = KafkaCluster(f"dlq-stop-{os.getpid()}", base_port=free_port_block(2),
                           root=VAR / "test" / f"dlq-stop-{uuid.uuid4().hex[:6]}")
    cluster.start(timeout=180)
    yield cluster
    cluster.destroy()


async def test_the_broker_stopping_while_a_poison_record_is_dead_lettered_loses_nothing(
    broker: KafkaCluster, database_url: str, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    total, down_s = (5_000, 30.0) if full else (600, 8.0)
    # Clients give up on a request after 5 s, so the dead-letter publish fails while the broker is down.
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix="d" + uuid.uuid4().hex[:8] + ".",
                             request_timeout_ms=5_000)
    await ensure_topics(settings)
    node = broker.nodes[0]
    valid = events(total, prefix="S")
    poison = [(topics.CASES.name, b"{broken", f"S-{i}".encode()) for i in (7, total // 2, total - 3)]
    stopped = asyncio.Event()
    original = EventConsumer._send_dead_letter

    async def stop_broker_on_first_copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not stopped.is_set():
            stopped.set()
            await asyncio.to_thread(broker.kill_node, node)  # SIGKILL, as the copy is being written
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(EventConsumer, "_send_dead_letter", stop_broker_on_first_copy)
    await produce(settings, *valid[:10], poison[0], *valid[10:total // 2], poison[1], *valid[total // 2:],
                  poison[2])
    conn = await asyncpg.connect(database_url)
    try:
        async with running(probe_definition(database_url, settings)) as probe:
            await eventually(stopped.is_set, timeout=60, interval=0.05)
            ready = await eventually(lambda: _held(probe), timeout=60, interval=0.2)
            await asyncio.sleep(down_s)
            applied_while_down = await applied_count(conn)
            await asyncio.to_thread(broker.start_node, node)
            await wait_until_ready(broker.bootstrap_servers, 1, timeout=120)
            await drained(probe, conn, settings, total)
            await eventually(lambda: conn.fetchval("SELECT count(*) = 3 FROM probe.dead_letters"), timeout=120)
        result = await tally(conn, keys(valid), settings)
    finally:
        await conn.close()
    assert (result.lost, result.doubled, result.unsent) == ([], [], []), str(result)
    assert (result.dead_lettered, result.dead_letter_copies) == (3, 3), f"each poison record once: {result}"
    assert applied_while_down < total, "the broker was down while work remained"
    reliability.record(
        "broker stops while a poison record is dead-lettered",
        f"{total:,} events and 3 poison records on a single broker; the broker is SIGKILLed as the first "
        f"poison record's dead-letter copy is written, kept down {down_s:.0f} s and started again.",
        events=total, poison_records=3, broker_down_s=down_s, applied_while_down=applied_while_down,
        held_while_down="; ".join(f"{h['topic'].split('.', 1)[1]}[{h['partition']}]@{h['offset']} {h['kind']}"
                                  for h in ready[:3]),
        lost=len(result.lost), doubled=len(result.doubled), valid_dead_lettered=result.dead_lettered - 3,
        poison_dead_lettered=result.dead_lettered, poison_copies_on_dlq=result.dead_letter_copies,
    )


async def test_postgres_turning_read_only_mid_stream_is_retried_and_nothing_is_dead_lettered(
    server: EmbeddedPostgres, kafka_settings: KafkaSettings, full: bool
) -> None:
    total, read_only_s, rate = (5_000, 20.0, 250) if full else (1_000, 5.0, 200)
    await ensure_topics(kafka_settings)
    sent = events(total, prefix="RO")
    admin = await asyncpg.connect(server.admin_url)
    await admin.execute("SET default_transaction_read_only = off")  # this session stays writable
    before = retries("transient")
    try:
        async with running(probe_definition(server.admin_url, kafka_settings)) as probe:
            publisher = asyncio.create_task(stream(kafka_settings, sent, rate=rate))
            await eventually(lambda: _at_least(applied_count(admin), total // 5), timeout=60, interval=0.05)
            # What a failover looks like to a client still connected: every new transaction is read-only.
            await admin.execute("ALTER SYSTEM SET default_transaction_read_only = on")
            await admin.fetchval("SELECT pg_reload_conf()")
            held = await eventually(lambda: _held(probe), timeout=30, interval=0.05)
            at_read_only = await applied_count(admin)
            await asyncio.sleep(read_only_s)
            during = await applied_count(admin)
            await admin.execute("ALTER SYSTEM RESET default_transaction_read_only")
            await admin.fetchval("SELECT pg_reload_conf()")
            await publisher
            await drained(probe, admin, kafka_settings, total)
        result = await tally(admin, keys(sent), kafka_settings)
    finally:
        await admin.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await admin.fetchval("SELECT pg_reload_conf()")
        await admin.close()
    assert all("read-only" in h["error"] and h["kind"] == "transient" for h in held), held
    assert during == at_read_only, "nothing is applied while the database is read-only"
    assert result.clean and result.expected == total, str(result)
    reliability.record(
        "PostgreSQL turns read-only mid-stream",
        f"{total:,} events streamed at about {rate}/s; a fifth of the way in, every new transaction is made "
        f"read-only (default_transaction_read_only, as after a failover) for {read_only_s:.0f} s, then writable.",
        events=total, read_only_s=read_only_s, applied_when_read_only=at_read_only,
        applied_during=during - at_read_only, partitions_held=len(held),
        transient_retries=int(retries("transient") - before), **result.figures(),
    )


async def test_a_statement_timeout_on_the_apply_is_retried_and_nothing_is_dead_lettered(
    database_url: str, kafka_settings: KafkaSettings, full: bool
) -> None:
    total, lock_s, rate = (5_000, 20.0, 250) if full else (1_000, 4.0, 200)
    await ensure_topics(kafka_settings)
    sent = events(total, prefix="TO")
    # The probe's own role gets a short statement_timeout in this test's database only.
    await migrate_service(database_url, "probe", "qaf-dev-password", MIGRATIONS)
    admin = await asyncpg.connect(database_url)
    database = await admin.fetchval("SELECT current_database()")
    await admin.execute(f'ALTER ROLE qaf_probe IN DATABASE "{database}" SET statement_timeout = \'300ms\'')
    before = retries("transient")
    try:
        async with running(probe_definition(database_url, kafka_settings)) as probe:
            publisher = asyncio.create_task(stream(kafka_settings, sent, rate=rate))
            await eventually(lambda: _at_least(applied_count(admin), total // 5), timeout=60, interval=0.05)
            locker = await asyncpg.connect(database_url)
            try:
                async with locker.transaction():
                    # Someone else's long transaction holds the table the apply writes to.
                    await locker.execute("LOCK TABLE probe.applications IN ACCESS EXCLUSIVE MODE")
                    held = await eventually(lambda: _held(probe), timeout=30, interval=0.05)
                    await asyncio.sleep(lock_s)
            finally:
                await locker.close()
            await publisher
            await drained(probe, admin, kafka_settings, total)
        result = await tally(admin, keys(sent), kafka_settings)
    finally:
        await admin.execute(f'ALTER ROLE qaf_probe IN DATABASE "{database}" RESET statement_timeout')
        await admin.close()
    assert all("statement timeout" in h["error"] and h["kind"] == "transient" for h in held), held
    assert result.clean and result.expected == total, str(result)
    reliability.record(
        "statement timeout on the apply",
        f"{total:,} events streamed at about {rate}/s into a consumer whose statement_timeout is 300 ms; a "
        f"fifth of the way in, another transaction locks the table it writes to for {lock_s:.0f} s.",
        events=total, lock_held_s=lock_s, partitions_held=len(held),
        transient_retries=int(retries("transient") - before), **result.figures(),
    )


async def drained(probe: Any, conn: asyncpg.Connection, settings: KafkaSettings, total: int) -> None:
    """Wait until the probe has applied `total` distinct events and committed every offset."""
    await eventually(lambda: _at_least(applied_count(conn), total), timeout=300, interval=0.5)
    await eventually(lambda: committed_to_end(settings, probe.runtime.consumer_group("probe")), timeout=120)


async def _held(probe: Any) -> list[dict[str, Any]] | None:
    try:
        body = (await probe.http.get("/ready")).json()
    except Exception:
        return None
    return body["retrying"] or None


async def _at_least(count: Any, expected: int) -> bool:
    try:
        return (await count) >= expected
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False

