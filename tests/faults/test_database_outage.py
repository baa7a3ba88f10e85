"""PostgreSQL stops mid-stream and comes back: services say they are not ready while it is down, keep
their Kafka positions, recover by themselves and lose nothing. Runs the probe (shared plumbing alone)
and the reporting service side by side, in-process, on their own PostgreSQL server."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from qaf_devstack.postgres import EmbeddedPostgres
from qaf_shared.contracts import CaseOpened
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import client_options, ensure_topics
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.integration.test_poison_messages import service_definition
from tests.support import reliability
from tests.support.kafka import produce
from tests.support.probe import probe_definition
from tests.support.services import running

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def case_opened(case_id: str):
    return new_envelope(
        CaseOpened(case_id=case_id, service=Service.FIRST_RESPONSE, team_id="T-1", worker_id="W-1",
                   team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
        source="outage-test",
    )


def audit_completed(i: int):
    example = EXAMPLES["audit-completed"]
    return new_envelope(example.model_copy(update={"audit_id": f"A-OUT-{i}", "case_id": f"C-OUT-{i}"}),
                        source="outage-test")


async def committed(settings: KafkaSettings, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def test_database_outage_makes_services_not_ready_and_they_recover_losing_nothing(
    server: EmbeddedPostgres, kafka_settings: KafkaSettings, full: bool
) -> None:
    down_s, per_phase = (30.0, 1_000) if full else (6.0, 200)
    await ensure_topics(kafka_settings)
    url = server.admin_url
    probe_def = probe_definition(url, kafka_settings)
    reporting_def = service_definition("reporting", url, kafka_settings)
    async with running(probe_def) as probe, running(reporting_def) as reporting:
        services = {"probe": probe, "reporting": reporting}
        # Each phase sends per_phase case events and per_phase audit events; reporting takes both.
        share = {"probe": per_phase, "reporting": 2 * per_phase}
        groups = {name: s.runtime.consumer_group(s.runtime.consumers[0].name) for name, s in services.items()}

        async def applied(service: str) -> int:
            pool = services[service].runtime.pool
            consumer = services[service].runtime.consumers[0].name
            return await pool.fetchval("SELECT count(*) FROM processed_events WHERE consumer = $1", consumer)

        # Before: a first batch is applied and its offsets committed.
        await produce(kafka_settings, *(case_opened(f"O-{i}") for i in range(per_phase)),
                      *(audit_completed(i) for i in range(per_phase)))
        for name in services:
            await eventually(lambda name=name: _equals(applied(name), share[name]), timeout=60)
        before = {name: await committed(kafka_settings, group) for name, group in groups.items()}
        for name, service in services.items():
            assert (await service.http.get("/ready")).status_code == 200, name

        # Down: PostgreSQL stops (fast shutdown: open connections are cut) while events keep coming.
        await asyncio.to_thread(server.stop, "fast")
        await produce(kafka_settings, *(case_opened(f"D-{i}") for i in range(per_phase)),
                      *(audit_completed(per_phase + i) for i in range(per_phase)))
        not_ready = {}
        for name, service in services.items():
            response = await eventually(lambda service=service: _status(service, 503), timeout=30)
            not_ready[name] = response.json()
            assert response.json()["checks"]["postgres"] == "down", response.json()
            assert (await service.http.get("/health")).status_code == 200, "the process itself stays alive"
        await asyncio.sleep(down_s)
        during = {name: await committed(kafka_settings, group) for name, group in groups.items()}
        for name in services:
            for partition, offset in before[name].items():
                assert during[name].get(partition, -1) >= offset, f"{name} lost its position on {partition}"

        # Back: nothing is restarted by hand; the services reconnect and carry on.
        await asyncio.to_thread(server.start)
        for name, service in services.items():
            await eventually(lambda service=service: _status(service, 200), timeout=60)
            await eventually(lambda name=name: _equals(applied(name), 2 * share[name]), timeout=120)
        await produce(kafka_settings, *(case_opened(f"A-{i}") for i in range(per_phase)),
                      *(audit_completed(2 * per_phase + i) for i in range(per_phase)))
        for name in services:
            await eventually(lambda name=name: _equals(applied(name), 3 * share[name]), timeout=120)

        doubled = await probe.runtime.pool.fetchval("SELECT count(*) FROM applications WHERE times > 1")
        probe_applied = await probe.runtime.pool.fetchval("SELECT count(*) FROM applications")
        dead = {name: await s.runtime.pool.fetchval("SELECT count(*) FROM dead_letters") for name, s in services.items()}
        assert (probe_applied, doubled) == (3 * per_phase, 0)
        assert dead == {"probe": 0, "reporting": 0}, "an outage is a passing failure: nothing dead-lettered"
        reliability.record(
            "database outage",
            f"PostgreSQL is stopped (fast shutdown) mid-stream for {down_s:.0f} s and started again, under the "
            "probe and the reporting service; events keep arriving while it is down.",
            events_probe=3 * share['probe'], events_reporting=3 * share['reporting'], outage_s=down_s, ready_while_down="503 (postgres down)",
            offsets_kept="yes", lost=3 * per_phase - probe_applied, doubled=doubled,
            dead_lettered=sum(dead.values()),
        )


async def _status(service, code: int):
    try:
        response = await service.http.get("/ready")
    except Exception:
        return None
    return response if response.status_code == code else None


async def _equals(count, expected: int) -> bool:
    try:
        return (await count) == expected
    except Exception:  # the database is still coming back
        return False
