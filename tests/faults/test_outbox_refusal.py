"""Rows Kafka can never take land in a service's outbox while its relay is busy: nothing behind them is lost.

The probe service (shared plumbing only) runs in-process on the real broker and database; the test
writes a stream of outbox rows the way a service does and slips in, a third of the way through, a row
over the producer's size limit, and two thirds through one the broker refuses (over the topic's limit,
which ops set below the producer's).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from qaf_shared import topics
from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import Envelope, decode, new_envelope
from qaf_shared.kafka import client_options, enqueue, ensure_topics
from qaf_shared.kafka import outbox as outbox_module
from qaf_shared.kafka.connection import MAX_MESSAGE_BYTES
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support import reliability
from tests.support.kafka import read_topic
from tests.support.probe import probe_definition
from tests.support.services import running

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KEYS = 40
ROWS_PER_TRANSACTION = 25


def case_opened(case_id: str) -> Envelope[Any]:
    return new_envelope(
        CaseOpened(case_id=case_id, service=Service.FIRST_RESPONSE, team_id="T-1", worker_id="W-1",
                   team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
        source="fault-test",
    )


TOPIC_LIMIT = 1024 * 1024
TOO_LARGE = {"producer": MAX_MESSAGE_BYTES + 1, "broker": TOPIC_LIMIT + 512 * 1024}


async def insert_refused(conn: asyncpg.Connection, size: int) -> UUID:
    event_id = uuid4()
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, event_type, body) VALUES ($1, $2, 'K-0', 'case-opened', $3)",
        event_id, topics.CASES.name, b"x" * size,
    )
    return event_id


async def lower_topic_limit(settings: KafkaSettings) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic_prefix + topics.CASES.name,
                                                  {"max.message.bytes": str(TOPIC_LIMIT)})])
    finally:
        await admin.close()


def first_seen_order(event_ids: list[UUID]) -> list[UUID]:
    """The ids in the order they first appear (a retried send may put a copy later on the topic)."""
    return list(dict.fromkeys(event_ids))


async def test_rows_refused_for_good_mid_stream_are_quarantined_and_no_other_row_is_lost(
    database_url: str, kafka_settings: KafkaSettings, full: bool, capfd: pytest.CaptureFixture[str],
    service_logs: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The relay's logger as configured now (structlog keeps a logger's configuration from its first use).
    monkeypatch.setattr(outbox_module, "log", structlog.get_logger(outbox_module.__name__))
    total = 20_000 if full else 3_000
    await ensure_topics(kafka_settings)
    await lower_topic_limit(kafka_settings)
    written: dict[str, list[UUID]] = {}  # the test's own record of what it wrote, per key, in order
    refused: dict[str, UUID] = {}
    published_when_injected: dict[str, int] = {}
    async with running(probe_definition(database_url, kafka_settings)) as service:
        pool = service.runtime.pool
        assert pool is not None
        started = time.monotonic()
        for start in range(0, total, ROWS_PER_TRANSACTION):
            batch = [case_opened(f"K-{(start + i) % KEYS}") for i in range(ROWS_PER_TRANSACTION)]
            due = [by for by, at in (("producer", total // 3), ("broker", 2 * total // 3))
                   if by not in refused and start >= at]
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, *batch[: ROWS_PER_TRANSACTION // 2])
                for by in due:  # between rows of the same transaction, on a key others also use
                    published_when_injected[by] = await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
                    refused[by] = await insert_refused(conn, TOO_LARGE[by])
                await enqueue(conn, *batch[ROWS_PER_TRANSACTION // 2 :])
            for envelope in batch:
                written.setdefault(envelope.key.decode(), []).append(envelope.event_id)
            await asyncio.sleep(0.002)
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"),
                         timeout=180, interval=0.1)
        drained_s = time.monotonic() - started
        metrics = (await service.http.get("/metrics")).text
        quarantined = {row["event_id"]: row["reason"] for row in await pool.fetch(
            "SELECT event_id, reason FROM outbox_quarantine")}

    records = await read_topic(kafka_settings, topics.CASES.name, expect=total, timeout=120)
    on_topic: dict[str, list[UUID]] = {}
    for record in records:
        on_topic.setdefault(record.key.decode(), []).append(decode(record.value).event_id)
    expected = {event_id for ids in written.values() for event_id in ids}
    seen = {event_id for ids in on_topic.values() for event_id in ids}
    lost = len(expected - seen)
    duplicates = len(records) - len(seen)
    out_of_order = sum(first_seen_order(on_topic.get(key, [])) != ids for key, ids in written.items())

    assert all(0 < count < total for count in published_when_injected.values()), (
        f"each refused row came while the relay was publishing: {published_when_injected}")
    assert lost == 0 and seen == expected
    assert out_of_order == 0
    assert set(quarantined) == set(refused.values())
    assert "max_request_size" in quarantined[refused["producer"]]
    assert "MESSAGE_SIZE_TOO_LARGE" in quarantined[refused["broker"]]
    assert 'qaf_outbox_quarantined{service="probe"} 2.0' in metrics
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if '"outbox.quarantined"' in line]
    assert sorted((line["event_id"], line["size"]) for line in logged) == sorted(
        (str(refused[by]), TOO_LARGE[by]) for by in refused)

    reliability.record(
        "outbox row refused for good",
        f"{total:,} outbox rows on {KEYS} keys, written {ROWS_PER_TRANSACTION} a transaction while the relay "
        "published them; a third of the way through, a row a byte over the producer's limit "
        f"({MAX_MESSAGE_BYTES:,} bytes) was written between two others, and two thirds through one over the "
        f"topic's (lowered to {TOPIC_LIMIT:,} bytes), which only the broker refuses.",
        rows_written=total, lost=lost, copies_on_topic=duplicates, keys_out_of_order=out_of_order,
        quarantined=len(quarantined), published_when_refused_by_producer=published_when_injected["producer"],
        published_when_refused_by_broker=published_when_injected["broker"], seconds_to_drain=round(drained_s, 1),
    )
