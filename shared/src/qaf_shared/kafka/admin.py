"""Create the catalogue's topics explicitly (auto-create is off on our brokers), with the catalogue's
retention, and bring the retention of topics that already exist to the catalogue's value."""

from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from qaf_shared.kafka.connection import MAX_MESSAGE_BYTES, client_options
from qaf_shared.settings import KafkaSettings
from qaf_shared.topics import CATALOGUE, Topic, physical_name

log = structlog.get_logger(__name__)

RETENTION_MS = "retention.ms"
MS_PER_DAY = 86_400_000
# DescribeConfigs' config_source of a value set on the topic itself (Kafka's ConfigSource.TOPIC_CONFIG);
# the other sources are the broker's defaults, which a topic override hides
TOPIC_OVERRIDE = 1


@dataclass(frozen=True)
class WantedTopic:
    name: str  # on the broker, prefix included
    partitions: int
    retention_ms: int | None  # None: the broker's default, left alone


def dlq_retention_ms(settings: KafkaSettings) -> int:
    return settings.dlq_retention_days * MS_PER_DAY


def wanted_topics(settings: KafkaSettings, topics: tuple[Topic, ...]) -> list[WantedTopic]:
    """Each topic and its dead-letter twin (one partition: dead letters are few and read by hand)."""
    prefix, dlq_retention = settings.topic_prefix, dlq_retention_ms(settings)
    wanted = []
    for topic in topics:
        wanted.append(WantedTopic(physical_name(topic.name, prefix), topic.partitions, topic.retention_ms))
        wanted.append(WantedTopic(physical_name(topic.dlq, prefix), 1, dlq_retention))
    return wanted


def creation_configs(topic: WantedTopic, base: dict[str, str]) -> dict[str, str]:
    if topic.retention_ms is None:
        return dict(base)
    return {**base, RETENTION_MS: str(topic.retention_ms)}


def corrected_overrides(overrides: dict[str, str], retention_ms: int) -> dict[str, str] | None:
    """The topic's full set of overrides with the catalogue's retention, or None when it already has it.

    The full set, because AlterConfigs (the only alter aiokafka 0.14 has; no IncrementalAlterConfigs)
    replaces every override of the topic: sending retention.ms alone would drop the others.
    """
    if overrides.get(RETENTION_MS) == str(retention_ms):
        return None
    return {**overrides, RETENTION_MS: str(retention_ms)}


def _raise_for_error(resource: dict[str, Any]) -> None:
    if resource["error_code"]:
        error = for_code(resource["error_code"])
        raise error(f"{resource['resource_name']}: {resource['error_message'] or error.description}")


@dataclass(frozen=True)
class TopicConfigs:
    overrides: dict[str, str | None]  # set on the topic itself; a sensitive one reads as None
    retention_ms: str  # in force: the override, else the broker's default


async def describe_topic_configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, TopicConfigs]:
    if not names:
        return {}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    described = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"] == UnknownTopicOrPartitionError.errno:
                # listed by one broker, not yet known to the one asked: just made by a peer, from this catalogue
                continue
            _raise_for_error(resource)
            entries = resource["config_entries"]
            # DescribeConfigs v1 and later carry config_source; Kafka 4 no longer speaks v0
            overrides = {e["config_names"]: e["config_value"] for e in entries if e["config_source"] == TOPIC_OVERRIDE}
            in_force = next(e["config_value"] for e in entries if e["config_names"] == RETENTION_MS)
            described[resource["resource_name"]] = TopicConfigs(overrides, in_force)
    return described


async def correct_retention(admin: AIOKafkaAdminClient, wanted: list[WantedTopic]) -> dict[str, tuple[str, str]]:
    """Bring each topic's retention.ms to the catalogue's; only topics that differ are altered.

    Returns, per topic altered, (the retention.ms in force before, the one now).
    """
    managed: dict[str, int] = {}
    for topic in wanted:
        if topic.retention_ms is not None:
            managed[topic.name] = topic.retention_ms
    changed: dict[str, tuple[str, str]] = {}
    for name, configs in (await describe_topic_configs(admin, list(managed))).items():
        overrides = {key: value for key, value in configs.overrides.items() if value is not None}
        if len(overrides) < len(configs.overrides):
            # a value we cannot read we cannot send back, and not sending it would delete it
            log.warning("kafka.topic_retention_not_corrected", topic=name, reason="topic has a sensitive override")
            continue
        desired = corrected_overrides(overrides, managed[name])
        if desired is None:
            continue
        for response in await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, desired)]):
            for resource in response.to_object()["resources"]:
                _raise_for_error(resource)
        changed[name] = (configs.retention_ms, desired[RETENTION_MS])
    return changed


async def ensure_topics(settings: KafkaSettings, topics: tuple[Topic, ...] = CATALOGUE) -> list[str]:
    """Create any missing topic of the catalogue, and its dead-letter twin; correct the retention of
    those that exist. Returns the topics created.

    The replication factor follows the cluster: 3 where there are three brokers or more (with
    min.insync.replicas=2), else 1 for a development broker.
    """
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        brokers = len(cluster.get("brokers", [])) or 1
        replication = 3 if brokers >= 3 else 1
        base = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
        if replication == 3:
            base["min.insync.replicas"] = "2"
        existing = set(await admin.list_topics())
        wanted = wanted_topics(settings, topics)
        created = []
        for topic in wanted:
            if topic.name in existing:
                continue
            new = NewTopic(topic.name, topic.partitions, replication, topic_configs=creation_configs(topic, base))
            try:
                await admin.create_topics([new])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another instance made it a moment ago, from the same catalogue
        if created:
            log.info("kafka.topics_created", topics=created, replication=replication)
        # only those there before we looked: one made just now, here or by a peer, is still settling
        changed = await correct_retention(admin, [t for t in wanted if t.name in existing])
        for name, (before, after) in changed.items():
            log.info("kafka.topic_retention_changed", topic=name, retention_ms_before=before, retention_ms=after)
        return created
    finally:
        await admin.close()
