"""Consumer processes killed, stopped and multiplied while they work: nothing lost, nothing doubled.

These run the probe service, which is built from the shared plumbing alone (idempotent consumer,
offsets committed after the database commit), in its own process on the real broker and database.
"""

from __future__ import annotations

import random
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


async def applied(conn: asyncpg.Connection) -> tuple[int, int]:
    """(keys applied at least once, keys applied more than once)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS applied, count(*) FILTER (WHERE times > 1) AS doubled FROM probe.applications"
    )
    return row["applied"], row["doubled"]


async def applied_at_least(conn: asyncpg.Connection, count: int) -> bool:
    try:
        return await conn.fetchval("SELECT count(*) >= $1 FROM probe.applications", count)
    except asyncpg.UndefinedTableError:  # the first probe has not migrated yet
        return False


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
            progress.append((await applied(conn))[0])
        final = await ProbeProcess(database_url, kafka_settings).start()
        try:
            await eventually(lambda: conn.fetchval("SELECT count(*) = $1 FROM probe.applications", total),
                             timeout=300, interval=0.5)
        finally:
            assert await final.terminate() == 0
        count, doubled = await applied(conn)
        assert all(p < total for p in progress), f"every kill lands while work remains: {progress}"
        assert count == total and doubled == 0
        reliability.record(
            "consumer crashes (SIGKILL)",
            f"{len(sent):,} events ({total:,} distinct, one in ten sent twice) into a consumer SIGKILLed at "
            f"{kills} random points and restarted each time.",
            events_sent=len(sent), distinct=total, kills=kills, lost=total - count, doubled=doubled,
        )
    finally:
        await conn.close()


async def test_sigterm_under_load_finishes_in_flight_work_and_restart_applies_nothing_twice(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    total = 4_000
    await ensure_topics(kafka_settings)
    await produce(kafka_settings, *events(total))
    probe = await ProbeProcess(database_url, kafka_settings).start()
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT count(*) > 200 FROM probe.applications"), timeout=60,
                         interval=0.05)
        returncode = await probe.terminate()
        at_stop = (await applied(conn))[0]
        assert returncode == 0, "a SIGTERMed service exits cleanly"
        assert at_stop < total, "it was stopped while busy"
        restarted = await ProbeProcess(database_url, kafka_settings).start()
        try:
            await eventually(lambda: conn.fetchval("SELECT count(*) = $1 FROM probe.applications", total),
                             timeout=120)
        finally:
            assert await restarted.terminate() == 0
        count, doubled = await applied(conn)
        assert (count, doubled) == (total, 0)
        reliability.record(
            "graceful shutdown under load (SIGTERM)",
            "A consumer busy with 4,000 events is sent SIGTERM, exits 0 after finishing and committing its "
            "in-flight message, and is restarted.",
            events=total, applied_at_sigterm=at_stop, exit_code=returncode, lost=total - count, doubled=doubled,
        )
    finally:
        await conn.close()


async def test_two_instances_in_one_group_with_a_rebalance_mid_stream_apply_every_event_once(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    total = 6_000
    await ensure_topics(kafka_settings)
    first = await ProbeProcess(database_url, kafka_settings).start()
    conn = await asyncpg.connect(database_url)
    second = None
    try:
        await produce(kafka_settings, *events(total // 2, prefix="A"))
        await eventually(lambda: conn.fetchval("SELECT count(*) > 300 FROM probe.applications"), timeout=60,
                         interval=0.05)
        second = await ProbeProcess(database_url, kafka_settings).start()  # the group rebalances
        await produce(kafka_settings, *events(total // 2, prefix="B"))
        await eventually(lambda: conn.fetchval("SELECT count(*) = $1 FROM probe.applications", total),
                         timeout=180)
        by_instance = await conn.fetchval("SELECT count(DISTINCT partition) FROM probe.processed_events")
        count, doubled = await applied(conn)
        assert (count, doubled) == (total, 0)
        reliability.record(
            "scale-out (two instances, rebalance mid-stream)",
            "One consumer starts; a second joins the same group half-way (a rebalance), while 6,000 events "
            "arrive over six partitions.",
            events=total, partitions_used=by_instance, lost=total - count, doubled=doubled,
        )
    finally:
        for probe in (first, second):
            if probe is not None and probe.returncode is None:
                assert await probe.terminate() == 0
        await conn.close()
