"""A service killed in the middle of a run: no second draw, no allocation lost."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from qaf_shared import topics
from qaf_shared.contracts import AllocationRunRequested
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.kafka import ensure_topics
from qaf_shared.settings import KafkaSettings
from tests.conftest import eventually
from tests.integration.allocation.support import allocation_definition, case_events, population_count, put_roster
from tests.support.kafka import produce, read_topic
from tests.support.services import running

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


async def test_a_service_killed_mid_run_neither_draws_twice_nor_loses_allocations(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    await ensure_topics(kafka_settings)
    definition = allocation_definition(database_url, kafka_settings)
    opened = case_events()
    async with running(definition) as service:
        admin = await service.token("U-QA-01", "qa-admin")
        await put_roster(service, admin)
        await produce(kafka_settings, *opened)
        await eventually(lambda: _known(service, admin, len(opened)), timeout=60)

    command = new_envelope(AllocationRunRequested(month="2013-10", as_of=date(2013, 10, 1), requested_by="U-QA-01"),
                           source="qa-admin")
    await produce(kafka_settings, command)
    crashing = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.allocation.crash_runner", database_url,
         kafka_settings.bootstrap_servers, kafka_settings.topic_prefix, "crash"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert await asyncio.to_thread(crashing.wait, 120) == -signal.SIGKILL

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM allocation.draws") == 1
        assert await conn.fetchval("SELECT count(*) FROM allocation.allocations") == 50

        async with running(definition) as service:
            # the command comes again (its offset was never committed), and someone asks again
            again = new_envelope(AllocationRunRequested(month="2013-10", as_of=date(2013, 10, 1),
                                                        requested_by="U-QA-02"), source="qa-admin")
            await produce(kafka_settings, again)
            admin = await service.token("U-QA-01", "qa-admin")
            response = await service.http.post("/allocation/runs", json={"month": "2013-10", "as_of": "2013-10-01"},
                                               headers=admin)
            assert response.status_code == 200 and response.json()["draw_id"] == "D-2013-10"
            await eventually(lambda: conn.fetchval(
                "SELECT count(*) = 2 FROM allocation.processed_events WHERE event_id = ANY($1::uuid[])",
                [command.event_id, again.event_id]), timeout=60)
            await eventually(lambda: conn.fetchval(
                "SELECT count(*) = 0 FROM allocation.outbox WHERE published_at IS NULL"), timeout=30)

        assert await conn.fetchval("SELECT count(*) FROM allocation.draws") == 1
        assert await conn.fetchval("SELECT count(*) FROM allocation.allocations") == 50
        records = await read_topic(kafka_settings, topics.ALLOCATIONS.name, expect=50, timeout=30)
        audit_ids = {decode(r.value).payload.audit_id for r in records}
        assert len(audit_ids) == 50
        stored = {r["audit_id"] for r in await conn.fetch("SELECT audit_id FROM allocation.allocations")}
        assert audit_ids == stored
    finally:
        await conn.close()


async def _known(service, headers, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await population_count(service, headers) == n
