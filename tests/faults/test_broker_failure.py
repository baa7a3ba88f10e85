"""A broker dies under load: on a three-node cluster (replication 3, min.insync.replicas 2) a producer
with acks=all and idempotence publishes at a steady rate; the broker leading most partitions is
SIGKILLed, and started again later. Every acknowledged event is applied exactly once by a consumer
(the probe service in its own process)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import date

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from qaf_devstack.ephemeral import free_port_block
from qaf_devstack.kafka import KafkaCluster, KafkaNode
from qaf_devstack.paths import VAR
from qaf_shared import topics
from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import ensure_topics, make_producer
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support import reliability
from tests.support.processes import ProbeProcess
from tests.support.tally import applied_keys

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("the broker-failure test starts its own three local brokers")
    cluster = KafkaCluster(
        f"broker-fault-{os.getpid()}", nodes=3, base_port=free_port_block(6),
        root=VAR / "test" / f"broker-fault-{uuid.uuid4().hex[:6]}",
    )
    cluster.start(timeout=180)
    yield cluster
    cluster.destroy()


async def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """partition → id of the broker leading it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return {p["partition"]: p["leader"] for p in described[0]["partitions"]}
    finally:
        await admin.close()


def case_opened(case_id: str):
    return new_envelope(
        CaseOpened(case_id=case_id, service=Service.CHILDREN_IN_CARE, team_id="T-1", worker_id="W-1",
                   team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
        source="broker-fault-test",
    )


async def test_a_partition_leader_sigkilled_under_load_loses_no_acknowledged_event(
    cluster: KafkaCluster, database_url: str, full: bool
) -> None:
    rate, before_kill_s, down_s, after_back_s = (100, 10.0, 30.0, 15.0) if full else (50, 3.0, 3.0, 3.0)
    settings = KafkaSettings(bootstrap_servers=cluster.bootstrap_servers,
                             topic_prefix="b" + uuid.uuid4().hex[:8] + ".")
    await ensure_topics(settings, (topics.CASES,))
    topic = settings.topic_prefix + topics.CASES.name
    probe = await ProbeProcess(database_url, settings).start()
    conn = await asyncpg.connect(database_url)
    producer = make_producer(settings, request_timeout_ms=30_000)
    await producer.start()
    sent: dict[str, asyncio.Future] = {}
    stop = asyncio.Event()

    async def publish_steadily() -> None:
        i = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not stop.is_set():
            envelope = case_opened(f"B-{i}")
            try:
                sent[envelope.payload.case_id] = await producer.send(topic, envelope.to_bytes(), key=envelope.key)
            except Exception as exc:  # refused before it was even queued: not acknowledged
                failed = loop.create_future()
                failed.set_exception(exc)
                sent[envelope.payload.case_id] = failed
            i += 1
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))

    try:
        publisher = asyncio.create_task(publish_steadily())
        await asyncio.sleep(before_kill_s)
        led = await leaders(cluster.bootstrap_servers, topic)
        counts = {node_id: sum(1 for leader in led.values() if leader == node_id) for node_id in set(led.values())}
        victim_id = max(sorted(counts), key=lambda n: counts[n])
        victim: KafkaNode = next(n for n in cluster.nodes if n.node_id == victim_id)
        cluster.kill_node(victim)  # SIGKILL
        sent_at_kill = len(sent)
        killed_at = asyncio.get_running_loop().time()

        async def failed_over() -> bool:
            live = ",".join(n.bootstrap for n in cluster.nodes if n.node_id != victim_id)
            try:
                return victim_id not in (await leaders(live, topic)).values()
            except KafkaError:  # the admin client tried the dead broker: ask again
                return False

        # The controller fences the dead broker once its session times out, and moves its leaderships.
        await eventually(failed_over, timeout=60, interval=0.5)
        failover_s = asyncio.get_running_loop().time() - killed_at
        await asyncio.sleep(down_s)
        cluster.start_node(victim)
        await asyncio.sleep(after_back_s)
        stop.set()
        await publisher
        await producer.flush()
        results = await asyncio.gather(*sent.values(), return_exceptions=True)
        acknowledged = [key for key, result in zip(sent, results, strict=True) if not isinstance(result, BaseException)]
        refused = len(sent) - len(acknowledged)

        await eventually(
            lambda: conn.fetchval("SELECT count(*) >= $1 FROM probe.applications WHERE key = ANY($2::text[])",
                                  len(acknowledged), acknowledged),
            timeout=180, interval=0.5,
        )
        times = await applied_keys(conn)  # key → applications (one `seen` row each)
        lost = [key for key in acknowledged if key not in times]
        doubled = [key for key, n in times.items() if n > 1]
        dead_lettered = await conn.fetchval("SELECT count(*) FROM probe.dead_letters")
        assert counts[victim_id] >= 1 and sent_at_kill < len(sent), "the kill came while events were flowing"
        assert not lost, f"{len(lost)} acknowledged events were never applied"
        assert not doubled, f"{len(doubled)} events applied more than once"
        assert set(times) <= set(sent), "nothing applied that was not sent"
        assert dead_lettered == 0, "valid events are never dead-lettered"
        reliability.record(
            "broker failure (leader SIGKILLed)",
            f"A producer (acks=all, idempotence) publishes at {rate}/s to a three-node cluster (replication 3, "
            f"min.insync.replicas 2); the broker leading the most partitions is SIGKILLed and restarted "
            f"{down_s:.0f} s after its leaderships moved; a consumer applies everything.",
            events_sent=len(sent), acknowledged=len(acknowledged), refused_to_producer=refused,
            partitions_led_by_killed_broker=f"{counts[victim_id]} of {len(led)}", leadership_moved_after_s=round(failover_s, 1),
            broker_down_s=round(asyncio.get_running_loop().time() - killed_at, 1),
            lost=len(lost), doubled=len(doubled), dead_lettered=dead_lettered,
        )
    finally:
        stop.set()
        await producer.stop()
        await conn.close()
        if probe.returncode is None:
            assert await probe.terminate() == 0
