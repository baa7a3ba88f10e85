"""The batch path of the idempotent consumer, on the real database: each event applied exactly once,
whether it comes twice in one batch, again in a later batch, or after the transaction that saw it failed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from qaf_shared.contracts import CaseOpened
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import EventConsumer
from tests.support.probe import MIGRATIONS, record

pytestmark = pytest.mark.integration


def as_record(envelope, offset: int, topic: str = "qaf.cases") -> ConsumerRecord:  # type: ignore[no-untyped-def]
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=0, timestamp_type=0, key=envelope.key,
        value=envelope.to_bytes(), checksum=None, serialized_key_size=0, serialized_value_size=0, headers=(),
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    url = await migrate_service(database_url, "probe", "probe-password", MIGRATIONS)
    pool = await connect_pool(url, "probe")
    yield pool
    await pool.close()


def consumer(pool: asyncpg.Pool, *, batch_handler=None) -> EventConsumer:  # type: ignore[no-untyped-def]
    handlers = {CaseOpened: record}
    return EventConsumer(name="probe", pool=pool, producer=None, handlers=handlers,  # type: ignore[arg-type]
                         batch_handler=batch_handler)


def case(case_id: str):  # type: ignore[no-untyped-def]
    return new_envelope(EXAMPLES["case-opened"].model_copy(update={"case_id": case_id}), source="test")


@pytest.mark.parametrize("set_based", [False, True], ids=["per-event handlers", "batch handler"])
async def test_an_event_twice_in_a_batch_or_again_later_is_applied_once(pool: asyncpg.Pool, set_based: bool) -> None:
    async def apply_all(conn: asyncpg.Connection, events) -> None:  # type: ignore[no-untyped-def]
        for event in events:
            await record(conn, event)

    applier = consumer(pool, batch_handler=apply_all if set_based else None)
    a, b, c = case("C-A"), case("C-B"), case("C-C")
    first = await applier.handle_batch([as_record(a, 0), as_record(b, 1), as_record(a, 2)])
    assert (first.applied, first.duplicates) == (2, 1)
    second = await applier.handle_batch([as_record(b, 3), as_record(c, 4), as_record(c, 5), as_record(a, 6)])
    assert (second.applied, second.duplicates) == (1, 3)
    times = dict(await pool.fetch("SELECT key, times FROM applications"))
    assert times == {"C-A": 1, "C-B": 1, "C-C": 1}
    assert await pool.fetchval("SELECT count(*) FROM processed_events WHERE consumer = 'probe'") == 3


async def test_a_batch_whose_transaction_failed_leaves_its_events_fresh_for_the_retry(pool: asyncpg.Pool) -> None:
    failing = True

    async def apply_all(conn: asyncpg.Connection, events) -> None:  # type: ignore[no-untyped-def]
        for event in events:
            await record(conn, event)
        if failing:
            raise OSError("database went away mid-batch")

    applier = consumer(pool, batch_handler=apply_all)
    batch = [as_record(case("C-1"), 0), as_record(case("C-2"), 1)]
    with pytest.raises(OSError):
        await applier.handle_batch(batch)
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == 0
    failing = False
    retried = await applier.handle_batch(batch)
    assert (retried.applied, retried.duplicates) == (2, 0)
    assert dict(await pool.fetch("SELECT key, times FROM applications")) == {"C-1": 1, "C-2": 1}


async def test_a_prepared_batch_that_cannot_be_applied_whole_is_split_and_only_the_bad_event_dead_lettered(
    pool: asyncpg.Pool, kafka_settings
) -> None:  # type: ignore[no-untyped-def]
    from qaf_shared.kafka import ensure_topics, make_producer

    await ensure_topics(kafka_settings)
    producer = make_producer(kafka_settings)
    await producer.start()

    def prepare(event):  # type: ignore[no-untyped-def]
        return event.payload.case_id, event  # what the batch handler gets: no envelope needed, but kept here

    async def apply_prepared(conn: asyncpg.Connection, prepared) -> None:  # type: ignore[no-untyped-def]
        for _, event in prepared:
            await record(conn, event)  # raises PermanentFailure for a case id starting REFUSE

    async def per_event(conn: asyncpg.Connection, event) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("what was prepared is applied by the batch handler, even alone")

    applier = EventConsumer(name="probe", pool=pool, producer=producer, handlers={CaseOpened: per_event},
                            batch_handler=apply_prepared, prepare=prepare, topic_prefix=kafka_settings.topic_prefix)
    try:
        topic = kafka_settings.topic_prefix + "qaf.cases"
        records = [as_record(case(c), i, topic) for i, c in enumerate(["C-1", "REFUSE-2", "C-3"])]
        outcome = await applier.handle_batch(records)
    finally:
        await producer.stop()
    assert (outcome.applied, outcome.dead_lettered) == (2, 1)
    assert dict(await pool.fetch("SELECT key, times FROM applications")) == {"C-1": 1, "C-3": 1}
    reasons = [r["reason"] for r in await pool.fetch("SELECT reason FROM dead_letters")]
    assert reasons == ["case REFUSE-2 is refused by a rule it can never pass"]
