"""`qaf-reporting replay` on a log whose start was deleted: refused (exit 2, the partition and the
missing offsets named on stderr, nothing changed) unless --accept-truncated-history is given, when it
rebuilds from what is left and says which offsets were missing. Run as an operator would: the real
command, configured through the environment, on the real broker and database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from qaf_shared import topics
from qaf_shared.kafka import client_options
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import Severity, Theme
from qaf_reporting.adapters.repository import Repository
from qaf_reporting.app import definition
from qaf_reporting.entrypoints.replay import partitions_of
from tests.conftest import eventually
from tests.integration.reporting.test_figures import settings
from tests.support.kafka import produce
from tests.support.services import running
from tests.unit.reporting import factories as f
from tests.unit.reporting.factories import FR, SS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
AUDITS = 8


async def replay_command(database_url: str, kafka: KafkaSettings, *args: str) -> tuple[int, str, str]:
    """`qaf-reporting replay ...` in its own process; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QAF_", "KAFKA_", "DATABASE_URL"))}
    env.update(DATABASE_URL=database_url, KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
               KAFKA_TOPIC_PREFIX=kafka.topic_prefix)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "qaf-reporting"), "replay", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def state(database_url: str, group: str, kafka: KafkaSettings) -> dict[str, Any]:
    """What a replay would change: the figures, the once-keys and the group's committed offsets."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "reporting"})
    try:
        figures = await Repository(conn).snapshot()
        processed = await conn.fetchval("SELECT count(*) FROM processed_events WHERE consumer = 'reporting'")
        audits = await conn.fetchval("SELECT sum(n) FROM monthly_counts WHERE kind = 'audit'")
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        offsets = {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()
    return {"figures": figures, "processed": processed, "audits": audits, "offsets": offsets}


async def truncate_fullest_partition(kafka: KafkaSettings, topic: str) -> tuple[int, int]:
    """Delete every record of the partition holding most (as retention would); (partition, records deleted)."""
    partitions = await partitions_of(kafka, [topic])
    assert len(partitions) == topics.AUDITS.partitions
    consumer = AIOKafkaConsumer(**client_options(kafka))
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    fullest = max(partitions, key=lambda tp: ends[tp])
    assert ends[fullest] >= 2, ends  # eight audits on six partitions: one holds two at least
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        low_watermarks = await admin.delete_records({fullest: RecordsToDelete(before_offset=ends[fullest])})
    finally:
        await admin.close()
    assert low_watermarks == {fullest: ends[fullest]}
    return fullest.partition, ends[fullest]


async def test_replay_refuses_a_truncated_log_and_with_the_flag_says_what_is_missing(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    reporting = definition(settings(database_url, kafka_settings))
    audits = [
        f.envelope(f.audit_completed(f"A{i}", FR if i % 2 else SS, date(2013, 10, 1 + i), month="2013-10",
                                     themes=[(Theme.SUPERVISION, Severity.SIGNIFICANT)]), date(2013, 10, 1 + i))
        for i in range(AUDITS)
    ]
    async with running(reporting) as service:
        pool = service.runtime.pool
        group = service.runtime.consumer_group("reporting")
        await produce(kafka_settings, *audits)
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM processed_events WHERE consumer = 'reporting'", AUDITS), timeout=60)
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM dirty_cells"))
        # the group's offsets are committed after each transaction: wait until they cover all eight
        await eventually(lambda: _committed(kafka_settings, group, AUDITS), timeout=30)
    before = await state(database_url, group, kafka_settings)
    assert before["audits"] == AUDITS

    audits_topic = kafka_settings.topic_prefix + topics.AUDITS.name
    partition, deleted = await truncate_fullest_partition(kafka_settings, audits_topic)
    gone = f"{audits_topic} partition {partition}: offsets 0..{deleted - 1} are gone ({deleted} offsets)"

    code, out, err = await replay_command(database_url, kafka_settings)
    assert code == 2, err
    assert "refusing to replay" in err and gone in err and "--accept-truncated-history" in err
    assert out == ""
    # refused before anything was touched: the figures, the once-keys and the group's offsets as they were
    assert await state(database_url, group, kafka_settings) == before

    code, out, err = await replay_command(database_url, kafka_settings, "--accept-truncated-history")
    assert code == 0, err
    assert "warning: replayed without the first events of 1 input partition(s)" in err and gone in err
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(e["topic"], e["partition"], e["missing_first"], e["missing_last"], e["missing_count"], e["level"])
            for e in logged if e["event"] == "replay.history_truncated"] == [
        (audits_topic, partition, 0, deleted - 1, deleted, "warning")]
    stats = json.loads(out)
    assert stats["missing_offsets"] == [
        {"topic": audits_topic, "partition": partition, "first": 0, "last": deleted - 1, "count": deleted}]
    assert stats["applied"] == AUDITS - deleted
    # rebuilt from what is left: the deleted audits are no longer counted
    after = await state(database_url, group, kafka_settings)
    assert after["audits"] == AUDITS - deleted
    assert after["processed"] == AUDITS - deleted
    assert re.search(r"^error:", err, re.MULTILINE) is None


async def _committed(kafka: KafkaSettings, group: str, expected: int) -> bool:
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    audits_topic = kafka.topic_prefix + topics.AUDITS.name
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == audits_topic) == expected
