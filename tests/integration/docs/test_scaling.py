"""docs/operating.md "Scaling a service": two instances of reporting, each its own process
(`qaf-reporting serve`), in one consumer group over the same event stream. Both take a share of the
partitions and apply events, and the figures are still exact."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from qaf_shared.kafka import client_options, ensure_topics
from qaf_shared.settings import KafkaSettings
from tests.conftest import eventually
from tests.integration.docs.support import ServiceProcess
from tests.integration.reporting.test_figures import EXPECTED_OCTOBER_ALL, OCT, scenario, summary
from tests.support.kafka import produce

pytestmark = pytest.mark.integration


async def group_members(kafka: KafkaSettings, group: str) -> tuple[str, int]:
    """(state, number of members) of a consumer group."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        described = response.to_object()["groups"][0]
        return described["state"], len(described["members"])
    finally:
        await admin.close()


async def applied_by(instance: ServiceProcess) -> float:
    """Events this instance applied, from its own /metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(instance.url + "/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text) if family.name == "qaf_events_handled"
        for sample in family.samples
        if sample.name == "qaf_events_handled_total" and sample.labels["outcome"] == "applied"
        and sample.labels["consumer"] == "reporting"
    )


async def figures(instance: ServiceProcess, token: str, **params: Any) -> set[tuple[Any, ...]]:
    async with httpx.AsyncClient(base_url=instance.url, headers={"Authorization": f"Bearer {token}"}) as client:
        response = await client.get("/reports/figures", params=params)
        response.raise_for_status()
        return summary(response.json()["figures"])


async def test_two_reporting_instances_in_one_group_keep_the_figures_exact(
    database_url: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    settings = {"flush_interval_ms": "200", "consumer_retry_backoff_s": "0.2", "outbox_poll_interval_s": "0.1"}
    instances = [ServiceProcess("reporting", database_url, kafka_settings, tmp_path / f"reporting-{n}.log", **settings)
                 for n in (1, 2)]
    for instance in instances:  # started together, as an orchestrator scaling to two would
        instance.start()
    conn = await asyncpg.connect(database_url)
    try:
        await asyncio.gather(*(instance.wait_ready() for instance in instances))
        group = kafka_settings.topic_prefix + "qaf-reporting"
        await eventually(lambda: _stable_with_two(kafka_settings, group), timeout=60)

        events, late = scenario()
        applied = len({e.event_id for e in events + late}) - 1  # the last of `events` is dead-lettered
        await produce(kafka_settings, *events, *late)
        await eventually(lambda: conn.fetchval(
            "SELECT count(*) = $1 FROM reporting.processed_events WHERE consumer = 'reporting'", applied), timeout=60)
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM reporting.dirty_cells"))

        # both instances did part of the work, and together applied every event exactly once
        per_instance = [await applied_by(instance) for instance in instances]
        assert all(n > 0 for n in per_instance), per_instance
        assert sum(per_instance) == applied

        token = await instances[0].token("U-PERF-01", "reporting")
        for instance in instances:
            assert await figures(instance, token, period_end=OCT, window=1) == EXPECTED_OCTOBER_ALL
            # the late September audit counts in its own month: 3 audits from August to October
            assert await figures(instance, token, period_end=OCT, window=3, measure="audit-theme") == {
                ("supervision", "audit-theme", None, None, 3, 3, 100.0),
                ("direct-work", "audit-theme", None, None, 1, 3, 33.33),
                ("children-in-need", "audit-theme", None, None, 1, 3, 33.33),
            }
        dead = await conn.fetch("SELECT reason FROM reporting.dead_letters")
        assert [r["reason"] for r in dead] == ["audit-completed month falls outside 1990-2100: not a plausible date"]
        # one flusher and one outbox relay at a time: every figure was published once per change
        assert await conn.fetchval("""
            SELECT count(*) FROM (
                SELECT (convert_from(body, 'UTF8')::jsonb -> 'payload') - ARRAY['previous_count', 'previous_rate', 'delta']
                FROM reporting.outbox GROUP BY 1 HAVING count(*) > 1) AS twice""") == 0
        assert await conn.fetchval("SELECT count(*) > 0 FROM reporting.outbox")
    finally:
        await conn.close()
        for instance in instances:
            assert await instance.stop() in (0, -signal.SIGTERM)


async def _stable_with_two(kafka: KafkaSettings, group: str) -> bool:
    state, members = await group_members(kafka, group)
    return state == "Stable" and members == 2
