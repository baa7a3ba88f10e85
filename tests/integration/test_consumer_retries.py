"""Retrying in place, on the real broker and database: a record that fails is neither skipped nor lost.

The probe service runs in-process; faults are injected where they happen (the dead-letter publish,
the handler). Each test holds the outcome against what it sent, and checks that the group's committed
offsets reach the end of the topic (nothing left behind, nothing committed past an unapplied record).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY

from qaf_shared import topics
from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import client_options, ensure_topics
from qaf_shared.kafka.connection import MAX_MESSAGE_BYTES
from qaf_shared.kafka.consumer import EventConsumer
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.probe import probe_definition
from tests.support.services import running
from tests.support.tally import applied_count, tally

pytestmark = pytest.mark.integration


def case_opened(case_id: str):  # type: ignore[no-untyped-def]
    return new_envelope(
        CaseOpened(case_id=case_id, service=Service.FIRST_RESPONSE, team_id="T-1", worker_id="W-1",
                   team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
        source="retry-test",
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def committed_to_end(settings: KafkaSettings, group: str) -> bool:
    """Has the group committed every partition of qaf.cases up to its end offset?"""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    topic = settings.topic_prefix + topics.CASES.name
    from aiokafka import AIOKafkaConsumer

    reader = AIOKafkaConsumer(**client_options(settings))
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(topics.CASES.partitions)]
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
    return all(ends[tp] == 0 or (tp in committed and committed[tp].offset == ends[tp]) for tp in partitions)


@pytest.fixture
async def database(database_url: str):  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def test_a_dead_letter_publish_that_fails_is_retried_and_each_poison_record_is_copied_once(
    database_url: str, kafka_settings: KafkaSettings, database: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(kafka_settings)
    # Two poison records and twenty events on one key's partition and the others; all there before the
    # consumer starts, so the first batch holds both poison records.
    valid = [f"P-{i}" for i in range(20)]
    await produce(kafka_settings, (topics.CASES.name, b"{not json", b"P-3"), (topics.CASES.name, b"[]", b"P-3"),
                  *(case_opened(key) for key in valid))
    calls = 0
    original = EventConsumer._send_dead_letter

    async def failing_second_to_fourth(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if 2 <= calls <= 4:  # the first poison record is copied; the copy of the second fails three times
            raise KafkaTimeoutError("injected: the broker did not answer in time")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(EventConsumer, "_send_dead_letter", failing_second_to_fourth)
    origin = kafka_settings.topic_prefix + topics.CASES.name
    retries_before = metric("qaf_consumer_retries_total", consumer="probe", kind="dead-letter")
    async with running(probe_definition(database_url, kafka_settings)) as probe:
        held = await eventually(lambda: _retrying(probe), timeout=30, interval=0.02)
        await eventually(lambda: _at_least(applied_count(database), len(valid)), timeout=60)
        group = probe.runtime.consumer_group("probe")
        await eventually(lambda: committed_to_end(kafka_settings, group), timeout=30)
    result = await tally(database, valid, kafka_settings)
    assert all(h["topic"] == origin and h["kind"] == "transient" for h in held), held
    assert all("dead-letter publish failed" in h["error"] for h in held), held
    assert (result.lost, result.doubled, result.unsent) == ([], [], [])
    assert result.dead_lettered == 2 and result.dead_letter_copies == 2, str(result)
    assert calls == 5, "two copies written, three failed tries of the second"
    assert metric("qaf_dead_lettered_total", consumer="probe", topic=origin) == 2
    assert metric("qaf_consumer_retries_total", consumer="probe", kind="dead-letter") - retries_before == 3


async def test_an_unexpected_error_holds_only_its_partition_until_the_retry_succeeds(
    database_url: str, kafka_settings: KafkaSettings, database: asyncpg.Connection
) -> None:
    await ensure_topics(kafka_settings)
    valid = [f"V-{i}" for i in range(30)]
    async with running(probe_definition(database_url, kafka_settings, consumer_retry_backoff_s=0.5)) as probe:
        # fails four times: about 0.25 + 0.5 + 1 + 2 s of backoff, while the other partitions go on
        await produce(kafka_settings, case_opened("FLAKY4-A"), *(case_opened(key) for key in valid))
        await eventually(lambda: _at_least(applied_count(database), len(valid) + 1), timeout=60)
        group = probe.runtime.consumer_group("probe")
        await eventually(lambda: committed_to_end(kafka_settings, group), timeout=30)
        assert (await probe.http.get("/ready")).json()["retrying"] == [], "nothing is held once it has passed"
    result = await tally(database, [*valid, "FLAKY4-A"], kafka_settings)
    assert result.clean, str(result)
    order = await _applied_in_order(database)
    flaky_partition = order["FLAKY4-A"][0]
    others = [key for key, (partition, _) in order.items() if partition != flaky_partition]
    same = [key for key, (partition, _) in order.items() if partition == flaky_partition and key != "FLAKY4-A"]
    assert others, "some events went to other partitions"
    flaky_at = order["FLAKY4-A"][1]
    assert all(order[key][1] < flaky_at for key in others), "the other partitions were not held"
    assert all(order[key][1] > flaky_at for key in same), "its own partition kept its order"


async def test_a_record_that_keeps_failing_is_dead_lettered_as_failed_repeatedly_and_its_partition_goes_on(
    database_url: str, kafka_settings: KafkaSettings, database: asyncpg.Connection
) -> None:
    await ensure_topics(kafka_settings)
    valid = [f"W-{i}" for i in range(20)]
    definition = probe_definition(database_url, kafka_settings, consumer_retry_backoff_s=0.05,
                                  consumer_retry_max_attempts=3)
    async with running(definition) as probe:
        await produce(kafka_settings, case_opened("BUG-1"), *(case_opened(key) for key in valid))
        await eventually(lambda: _at_least(applied_count(database), len(valid)), timeout=60)
        group = probe.runtime.consumer_group("probe")
        await eventually(lambda: committed_to_end(kafka_settings, group), timeout=30)
    result = await tally(database, valid, kafka_settings)
    assert (result.lost, result.doubled, result.unsent) == ([], [], [])
    assert (result.dead_lettered, result.dead_letter_copies) == (1, 1), str(result)
    reason = await database.fetchval("SELECT reason FROM probe.dead_letters")
    assert reason.startswith("failed repeatedly (3 tries): ProbeBug: the handler cannot cope with BUG-1"), reason


async def test_a_record_too_large_to_copy_whole_is_dead_lettered_truncated_with_its_size_and_digest(
    database_url: str, kafka_settings: KafkaSettings, database: asyncpg.Connection
) -> None:
    await ensure_topics(kafka_settings)
    # Not JSON, and as large as a topic takes: with the dead-letter headers it would not fit again.
    huge = b"{" + b"x" * (MAX_MESSAGE_BYTES - 4096)
    async with running(probe_definition(database_url, kafka_settings)):
        await produce(kafka_settings, (topics.CASES.name, huge, b"H-1"), case_opened("H-1"))
        await eventually(lambda: _at_least(applied_count(database), 1), timeout=60)
    copies = await read_topic(kafka_settings, topics.CASES.dlq, expect=2, timeout=5)
    assert len(copies) == 1
    headers = dict(copies[0].headers)
    assert headers["x-dlq-truncated"] == b"true"
    assert headers["x-dlq-original-size"] == str(len(huge)).encode()
    assert headers["x-dlq-original-sha256"] == hashlib.sha256(huge).hexdigest().encode()
    assert 0 < len(copies[0].value) < len(huge) and huge.startswith(copies[0].value)
    assert b"not valid JSON" in headers["x-dlq-reason"] or b"JSON" in headers["x-dlq-reason"]
    result = await tally(database, ["H-1"])
    assert (result.lost, result.doubled) == ([], [])


async def _retrying(probe: Any) -> list[dict[str, Any]] | None:
    body = (await probe.http.get("/ready")).json()
    return body["retrying"] or None


async def _at_least(count: Any, expected: int) -> bool:
    return (await count) >= expected


async def _applied_in_order(conn: asyncpg.Connection) -> dict[str, tuple[int, Any]]:
    """key → (partition it came from, when it was applied)."""
    rows = await conn.fetch(
        "SELECT s.key, p.partition, s.applied_at FROM probe.seen s "
        "JOIN probe.processed_events p ON p.event_id = s.event_id AND p.consumer = 'probe'"
    )
    return {row["key"]: (row["partition"], row["applied_at"]) for row in rows}


async def test_a_replay_retries_a_failing_record_in_place_and_commits_only_once_it_has_passed(
    database_url: str, kafka_settings: KafkaSettings, database: asyncpg.Connection
) -> None:
    """Reporting's pipelined replay (consume_to_end) keeps the same promise as the live consumer."""
    from qaf_reporting.entrypoints.replay import consume_to_end
    from qaf_shared.db import connect_pool, migrate_service
    from qaf_shared.kafka import RetryPolicy, make_producer
    from tests.support.probe import MIGRATIONS, recorder

    await ensure_topics(kafka_settings)
    valid = [f"R-{i}" for i in range(40)]
    await produce(kafka_settings, case_opened("FLAKY2-R"), *(case_opened(key) for key in valid),
                  case_opened("BUG-R"))
    url = await migrate_service(database_url, "probe", "probe-password", MIGRATIONS)
    pool = await connect_pool(url, "probe")
    producer = make_producer(kafka_settings)
    await producer.start()
    handler = recorder("replay")
    applier = EventConsumer(name="probe", pool=pool, producer=producer, handlers={CaseOpened: handler},
                            retry=RetryPolicy(backoff_s=0.05, max_attempts=3), topic_prefix=kafka_settings.topic_prefix)
    group = kafka_settings.topic_prefix + "replay-probe"
    try:
        outcome, retries = await consume_to_end(applier, _Settings(kafka_settings),
                                                [kafka_settings.topic_prefix + topics.CASES.name], group, batch_size=7)
    finally:
        await producer.stop()
        await pool.close()
    result = await tally(database, [*valid, "FLAKY2-R"], kafka_settings)
    assert (result.lost, result.doubled, result.unsent) == ([], [], [])
    assert (result.dead_lettered, result.dead_letter_copies) == (1, 1), "BUG-R, after three tries"
    assert (outcome.applied, outcome.dead_lettered) == (len(valid) + 1, 1)
    # FLAKY2-R fails in its batch and once alone (one retry); BUG-R fails alone three times (two retries)
    assert retries >= 1 + 2
    assert await committed_to_end(kafka_settings, group)


class _Settings:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
