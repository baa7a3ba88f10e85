"""Consumer processes killed, stopped and multiplied while they work: nothing lost, nothing doubled.

These run the probe service, which is built from the shared plumbing alone (idempotent consumer,
offsets committed after the database commit), in its own process on the real broker and database.
"""

from __future__ import annotations

import asyncio
import random
import signal
from datetime import date

import asyncpg
import pytest

from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import ensure_topics
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support import reliability
from tests.support.kafka import produce
from tests.support.processes import ProbeProcess
from tests.support.tally import applied_count, tally

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def events(count: int, *, prefix: str = "K", duplicates_every: int = 0) -> list:
    made = []
    for i in range(count):
        envelope = new_envelope(
            CaseOpened(case_id=f"{prefix}-{i}", service=Service.FIRST_RESPONSE, team_id="T-1", worker_id="W-1",
                       team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
            source="fault-test",
        )
        made.append(envelope)
        if duplicates_every and i % duplicates_every == 0:
            made.append(envelope)  # the same event delivered twice
    return made


def keys(envelopes: list) -> list[str]:
    return [e.payload.case_id for e in envelopes]


async def applied_at_least(conn: asyncpg.Connection, count: int) -> bool:
    return await applied_count(conn) >= count


@pytest.mark.timeout(1800)
async def test_consumer_sigkilled_at_random_points_loses_nothing_and_doubles_nothing(
    database_url: str, kafka_settings: KafkaSettings, full: bool
) -> None:
    total, kills = (50_000, 20) if full else (10_000, 5)
    await ensure_topics(kafka_settings)
    sent = events(total, duplicates_every=10)
    await produce(kafka_settings, *sent)
    # Kill at random points of the work: after a random number of events has been applied.
    rng = random.Random(2013)
    kill_points = sorted(rng.sample(range(1, total), kills))
    conn = await asyncpg.connect(database_url)
    try:
        progress = []
        for point in kill_points:
            probe = await ProbeProcess(database_url, kafka_settings).start(wait_ready=False)
            await eventually(lambda: applied_at_least(conn, point), timeout=120, interval=0.01)
            probe.kill()
            progress.append(await applied_count(conn))
        final = await ProbeProcess(database_url, kafka_settings).start()
        try:
            await eventually(lambda: applied_at_least(conn, total), timeout=600, interval=0.5)
        finally:
            assert await final.terminate() == 0
        result = await tally(conn, keys(sent), kafka_settings)
        assert all(p < total for p in progress), f"every kill lands while work remains: {progress}"
        assert result.clean and result.expected == total, str(result)
        reliability.record(
            "consumer crashes (SIGKILL)",
            f"{len(sent):,} events ({total:,} distinct, one in ten sent twice) into a consumer SIGKILLed at "
            f"{kills} random points and restarted each time.",
            events_sent=len(sent), distinct=total, kills=kills, **result.figures(),
        )
    finally:
        await conn.close()


async def test_the_tally_sees_a_double_application_when_deduplication_is_switched_off(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    """The fault tests can fail: a consumer killed between its commit and its offset commit, and run
    again with deduplication switched off (in the database, the consumer's code unchanged), applies
    that event twice, and the tally says so. With deduplication on, the same crash applies it once
    (tests/integration/test_platform.py)."""
    await ensure_topics(kafka_settings)
    sent = events(5, prefix="D")
    crash_key = sent[2].payload.case_id
    await produce(kafka_settings, *sent)
    crashing = await ProbeProcess(database_url, kafka_settings, crash_key=crash_key, deduplicate=False).start(
        wait_ready=False)
    assert await asyncio.to_thread(crashing.process.wait, 120) == -signal.SIGKILL
    conn = await asyncpg.connect(database_url)
    try:
        restarted = await ProbeProcess(database_url, kafka_settings, deduplicate=False).start()
        try:
            await eventually(lambda: applied_at_least(conn, len(sent)), timeout=90)
            await asyncio.sleep(1.0)
        finally:
            assert await restarted.terminate() == 0
        result = await tally(conn, keys(sent))
        assert crash_key in result.doubled and not result.lost, str(result)
    finally:
        await conn.close()


async def test_sigterm_under_load_finishes_in_flight_work_and_restart_applies_nothing_twice(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    total = 4_000
    await ensure_topics(kafka_settings)
    sent = events(total)
    await produce(kafka_settings, *sent)
    probe = await ProbeProcess(database_url, kafka_settings).start()
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: applied_at_least(conn, 200), timeout=60, interval=0.05)
        returncode = await probe.terminate()
        at_stop = await applied_count(conn)
        assert returncode == 0, "a SIGTERMed service exits cleanly"
        assert at_stop < total, "it was stopped while busy"
        restarted = await ProbeProcess(database_url, kafka_settings).start()
        try:
            await eventually(lambda: applied_at_least(conn, total), timeout=120)
        finally:
            assert await restarted.terminate() == 0
        result = await tally(conn, keys(sent), kafka_settings)
        assert result.clean and result.expected == total, str(result)
        reliability.record(
            "graceful shutdown under load (SIGTERM)",
            "A consumer busy with 4,000 events is sent SIGTERM, exits 0 after finishing and committing its "
            "in-flight message, and is restarted.",
            events=total, applied_at_sigterm=at_stop, exit_code=returncode, **result.figures(),
        )
    finally:
        await conn.close()


async def test_two_instances_in_one_group_with_a_rebalance_mid_stream_apply_every_event_once(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    total = 6_000
    await ensure_topics(kafka_settings)
    first = await ProbeProcess(database_url, kafka_settings, instance="first").start()
    conn = await asyncpg.connect(database_url)
    second = None
    try:
        before = events(total // 2, prefix="A")
        await produce(kafka_settings, *before)
        await eventually(lambda: applied_at_least(conn, 300), timeout=60, interval=0.05)
        second = await ProbeProcess(database_url, kafka_settings, instance="second").start()  # a rebalance
        # the second instance has joined once it has partitions: wait for the group to settle, then send more
        await eventually(lambda: applied_at_least(conn, total // 2), timeout=120)
        after = events(total // 2, prefix="B")
        await produce(kafka_settings, *after)
        await eventually(lambda: applied_at_least(conn, total), timeout=180)
        by_instance = dict(await conn.fetch(
            "SELECT instance, count(*) FROM probe.seen WHERE key LIKE 'B-%' GROUP BY instance"))
        partitions = dict(await conn.fetch(
            "SELECT s.instance, count(DISTINCT p.partition) FROM probe.seen s JOIN probe.processed_events p "
            "ON p.event_id = s.event_id WHERE s.key LIKE 'B-%' GROUP BY s.instance"))
        result = await tally(conn, keys(before) + keys(after), kafka_settings)
        assert result.clean and result.expected == total, str(result)
        assert by_instance.get("first", 0) > 0 and by_instance.get("second", 0) > 0, (
            f"after the rebalance each instance applied events: {by_instance}")
        assert sum(by_instance.values()) == total // 2
        reliability.record(
            "scale-out (two instances, rebalance mid-stream)",
            "One consumer starts; a second joins the same group half-way (a rebalance), while 6,000 events "
            "arrive over six partitions; the second half is applied by both instances.",
            events=total, applied_by_first_after_rebalance=by_instance.get("first", 0),
            applied_by_second_after_rebalance=by_instance.get("second", 0),
            partitions_first=partitions.get("first", 0), partitions_second=partitions.get("second", 0),
            **result.figures(),
        )
    finally:
        for probe in (first, second):
            if probe is not None and probe.returncode is None:
                assert await probe.terminate() == 0
        await conn.close()
