"""The three-node KRaft cluster the fault tests stand on: replication 3, min.insync.replicas 2."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from qaf_devstack.kafka import KafkaCluster
from qaf_devstack.paths import VAR
from qaf_shared import topics
from qaf_shared.kafka import ensure_topics, make_producer
from qaf_shared.settings import KafkaSettings
from qaf_devstack.ephemeral import free_port_block

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster() -> KafkaCluster:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("the cluster test starts its own three local brokers")
    cluster = KafkaCluster(
        f"cluster-test-{os.getpid()}", nodes=3, base_port=free_port_block(6),
        root=VAR / "test" / f"cluster-{uuid.uuid4().hex[:6]}",
    )
    cluster.start(timeout=180)
    yield cluster
    cluster.destroy()


async def test_three_nodes_replicate_and_acknowledge_with_acks_all(cluster: KafkaCluster) -> None:
    settings = KafkaSettings(bootstrap_servers=cluster.bootstrap_servers, topic_prefix="smoke.")
    await ensure_topics(settings, (topics.CASES,))
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(["smoke.qaf.cases"])
        partitions = described[0]["partitions"]
        assert len(partitions) == topics.CASES.partitions
        assert all(len(p["replicas"]) == 3 for p in partitions)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "smoke.qaf.cases")])
        entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
        assert entries["min.insync.replicas"] == "2"
    finally:
        await admin.close()

    producer = make_producer(settings)
    await producer.start()
    sent = [f"message-{i}".encode() for i in range(20)]
    try:
        for i, value in enumerate(sent):
            await producer.send_and_wait("smoke.qaf.cases", value, key=f"C-{i}".encode())
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        "smoke.qaf.cases", bootstrap_servers=cluster.bootstrap_servers, group_id="smoke-reader",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(received) < len(sent) and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                received.extend(r.value for r in records)
    finally:
        await consumer.stop()
    assert sorted(received) == sorted(sent)
