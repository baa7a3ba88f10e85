"""Create the catalogue's topics explicitly (auto-create is off on our brokers)."""

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from qaf_shared.kafka.connection import MAX_MESSAGE_BYTES, client_options
from qaf_shared.settings import KafkaSettings
from qaf_shared.topics import CATALOGUE, Topic, physical_name

log = structlog.get_logger(__name__)


async def ensure_topics(settings: KafkaSettings, topics: tuple[Topic, ...] = CATALOGUE) -> list[str]:
    """Create any missing topic of the catalogue, and its dead-letter twin. Returns those created.

    The replication factor follows the cluster: 3 where there are three brokers or more (with
    min.insync.replicas=2), else 1 for a development broker.
    """
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        brokers = len(cluster.get("brokers", [])) or 1
        replication = 3 if brokers >= 3 else 1
        config = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
        if replication == 3:
            config["min.insync.replicas"] = "2"
        existing = set(await admin.list_topics())
        wanted = []
        prefix = settings.topic_prefix
        for topic in topics:
            name, dlq = physical_name(topic.name, prefix), physical_name(topic.dlq, prefix)
            if name not in existing:
                wanted.append(NewTopic(name, topic.partitions, replication, topic_configs=config))
            if dlq not in existing:
                wanted.append(NewTopic(dlq, 1, replication, topic_configs=config))
        created = []
        for new in wanted:
            try:
                await admin.create_topics([new])
                created.append(new.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("kafka.topics_created", topics=created, replication=replication)
        return created
    finally:
        await admin.close()
