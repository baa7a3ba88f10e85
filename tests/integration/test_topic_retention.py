"""Topic retention on the real broker: topics are made with the catalogue's retention, an existing
topic with another one is corrected (its other overrides kept), dead-letter twins keep 30 days by
default and the configured number of days when set."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from structlog.testing import capture_logs

from qaf_shared import topics
from qaf_shared.kafka import admin as admin_module
from qaf_shared.kafka import client_options, ensure_topics
from qaf_shared.settings import KafkaSettings
from tests.conftest import eventually

pytestmark = pytest.mark.integration

FOREVER = "-1"
DAY_MS = 86_400 * 1000


@pytest.fixture
async def admin(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**client_options(kafka_settings))
    await client.start()
    yield client
    await client.close()


async def describe(admin: AIOKafkaAdminClient, name: str) -> dict[str, str] | None:
    """The configs set on the topic itself (config_source 1), or None while the broker does not know it yet."""
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    [resource] = response.to_object()["resources"]
    if resource["error_code"]:
        return None
    return {e["config_names"]: e["config_value"] for e in resource["config_entries"] if e["config_source"] == 1}


async def overrides(admin: AIOKafkaAdminClient, name: str) -> dict[str, str]:
    # a topic just made is known to the controller before every broker's metadata has it
    async def known() -> tuple[dict[str, str]] | None:  # a tuple: a topic with no override is known too
        configs = await describe(admin, name)
        return None if configs is None else (configs,)

    found = await eventually(known, timeout=15)
    assert isinstance(found, tuple)
    return found[0]


async def settled(admin: AIOKafkaAdminClient, name: str, retention_ms: str) -> dict[str, str]:
    """The topic's overrides once its retention.ms reads `retention_ms`: an alter is committed by the
    controller before the broker asked has it in its metadata."""

    async def arrived() -> dict[str, str] | None:
        configs = await describe(admin, name)
        return configs if configs is not None and configs.get("retention.ms") == retention_ms else None

    found = await eventually(arrived, timeout=15)
    assert isinstance(found, dict)
    return found


async def broker_default_retention(admin: AIOKafkaAdminClient, kafka: KafkaSettings) -> str:
    """retention.ms a topic without an override gets (`log.retention.*` of the broker)."""
    probe = kafka.topic_prefix + "probe.default"
    await create(admin, NewTopic(probe, 1, 1))
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, probe, {"retention.ms": None})])
    return response.to_object()["resources"][0]["config_entries"][0]["config_value"]


async def create(admin: AIOKafkaAdminClient, topic: NewTopic) -> None:
    """Make a topic the way an older deployment or an operator would, and wait until the broker knows it."""
    await admin.create_topics([topic])
    await overrides(admin, topic.name)


@contextmanager
def admin_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What ensure_topics logs. A fresh logger: structlog caches one's configuration on first use, so the
    module's own logger, used by earlier tests in the session, would not see the capture."""
    wrapper = structlog.get_config()["wrapper_class"]
    # an in-process CLI call earlier in the session may have left the level at WARNING
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with capture_logs() as logs:
            monkeypatch.setattr(admin_module, "log", structlog.get_logger(admin_module.__name__))
            yield logs
    finally:
        structlog.configure(wrapper_class=wrapper)


async def test_every_topic_is_made_with_its_retention_and_dead_letters_keep_thirty_days(
    kafka_settings: KafkaSettings, admin: AIOKafkaAdminClient
) -> None:
    prefix = kafka_settings.topic_prefix
    event_sourced = ["qaf.cases", "qaf.allocation-commands", "qaf.allocations", "qaf.audits", "qaf.escalations",
                     "qaf.complaints", "qaf.themes", "qaf.actions", "qaf.board"]
    created = await ensure_topics(kafka_settings)
    assert sorted(created) == sorted(prefix + n + dlq for n in event_sourced for dlq in ("", ".dlq"))
    for name in event_sourced:
        assert (await overrides(admin, prefix + name))["retention.ms"] == FOREVER, name
        dlq = await overrides(admin, prefix + name + ".dlq")
        assert dlq["retention.ms"] == str(30 * DAY_MS) == "2592000000", name
        assert dlq["max.message.bytes"] == str(2 * 1024 * 1024)


async def test_a_topic_made_with_one_hour_is_corrected_and_keeps_its_other_overrides(
    kafka_settings: KafkaSettings, admin: AIOKafkaAdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    audits = kafka_settings.topic_prefix + "qaf.audits"
    await create(admin, NewTopic(audits, 6, 1, topic_configs={"retention.ms": "3600000", "segment.ms": "600000"}))
    assert (await overrides(admin, audits))["retention.ms"] == "3600000"

    with admin_logs(monkeypatch) as logs:
        created = await ensure_topics(kafka_settings, (topics.AUDITS,))
    assert created == [audits + ".dlq"]
    # AlterConfigs replaces every override: segment.ms survives because it was sent back with retention.ms
    assert await settled(admin, audits, FOREVER) == {"retention.ms": FOREVER, "segment.ms": "600000"}
    changes = [e for e in logs if e["event"] == "kafka.topic_retention_changed"]
    assert changes == [{"event": "kafka.topic_retention_changed", "log_level": "info", "topic": audits,
                        "retention_ms_before": "3600000", "retention_ms": FOREVER}]

    # nothing differs any more: nothing is altered
    with admin_logs(monkeypatch) as logs:
        assert await ensure_topics(kafka_settings, (topics.AUDITS,)) == []
    assert [e for e in logs if e["event"] == "kafka.topic_retention_changed"] == []


async def test_a_topic_on_the_brokers_default_gets_an_explicit_retention(
    kafka_settings: KafkaSettings, admin: AIOKafkaAdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = kafka_settings.topic_prefix + "qaf.cases"
    await create(admin, NewTopic(cases, 6, 1))  # as ensure_topics made them before retention was explicit
    assert "retention.ms" not in await overrides(admin, cases)
    with admin_logs(monkeypatch) as logs:
        await ensure_topics(kafka_settings, (topics.CASES,))
    await settled(admin, cases, FOREVER)
    [change] = [e for e in logs if e["event"] == "kafka.topic_retention_changed"]
    # what was in force: the broker's default (168 hours on the brokers the tests start, unless pointed elsewhere)
    assert change["retention_ms_before"] == await broker_default_retention(admin, kafka_settings)
    assert change["retention_ms"] == FOREVER


async def test_dead_letter_twins_keep_the_configured_number_of_days_and_are_corrected_to_it(
    kafka_settings: KafkaSettings, admin: AIOKafkaAdminClient
) -> None:
    complaints_dlq = kafka_settings.topic_prefix + "qaf.complaints.dlq"
    await ensure_topics(kafka_settings, (topics.COMPLAINTS,))
    assert (await overrides(admin, complaints_dlq))["retention.ms"] == str(30 * DAY_MS)

    ninety = kafka_settings.model_copy(update={"dlq_retention_days": 90})
    await ensure_topics(ninety, (topics.COMPLAINTS, topics.BOARD))
    assert (await settled(admin, complaints_dlq, str(90 * DAY_MS)))["retention.ms"] == "7776000000"
    board_dlq = kafka_settings.topic_prefix + "qaf.board.dlq"
    assert (await overrides(admin, board_dlq))["retention.ms"] == str(90 * DAY_MS)
    # the topics themselves are not the dead-letter setting's business
    assert (await overrides(admin, kafka_settings.topic_prefix + "qaf.complaints"))["retention.ms"] == FOREVER
