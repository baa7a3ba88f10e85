"""docs/publishing.md: each example runs, as the page says, against a running allocation service and a
real broker, and its events arrive: on `qaf.cases` keyed by case id, and in allocation's population."""

from __future__ import annotations

import asyncio
import json
import signal
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from qaf_shared import topics
from qaf_shared.envelope import decode
from qaf_shared.kafka import ensure_topics
from qaf_shared.settings import KafkaSettings
from tests.conftest import eventually
from tests.integration.docs.support import ROOT, ServiceProcess, fresh_database, read_all, run_example

pytestmark = pytest.mark.integration

# made the documented way, `qaf-allocation tokens create --principal ... --role ...`, once for the module
TOKENS = {
    "first-response": ("first-response", "case-system"),
    "safeguarding-and-support": ("safeguarding-and-support", "case-system"),
    "reader": ("U-PERF-01", "reporting"),
}


@pytest.fixture(scope="module")
def module_kafka(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"pub{os.getpid()}.")


@pytest.fixture(scope="module")
async def allocation(pg_admin_url: str, module_kafka: KafkaSettings,
                     tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceProcess]:
    async with fresh_database(pg_admin_url) as database_url:
        await ensure_topics(module_kafka)
        service = ServiceProcess("allocation", database_url, module_kafka,
                                 tmp_path_factory.mktemp("allocation") / "allocation.log",
                                 scheduler_enabled="false", outbox_poll_interval_s="0.1")
        service.start()
        try:
            await service.wait_ready()
            service.tokens = dict(zip(TOKENS, await asyncio.gather(*(service.token(*t) for t in TOKENS.values()))))
            yield service
        finally:
            assert await service.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled


async def population(service: ServiceProcess, token: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=service.url, headers={"Authorization": f"Bearer {token}"}) as client:
        today = datetime.now(UTC).date().isoformat()
        response = await client.get("/allocation/population", params={"as_of": today})
        response.raise_for_status()
        return response.json()


async def case_records(kafka: KafkaSettings, case_ids: set[str]) -> list[tuple[str, str, bytes]]:
    """(event_type, case_id, key) of every record on qaf.cases about these cases."""
    records = await read_all(kafka, topics.CASES.name)
    found = []
    for record in records:
        envelope = decode(record.value, expected_topic=topics.CASES.name)
        if envelope.payload.case_id in case_ids:
            found.append((envelope.event_type, envelope.payload.case_id, record.key))
    return found


async def open_in(service: ServiceProcess, token: str, code: str, expected: int) -> bool:
    return (await population(service, token))["open_by_service"][code] == expected


async def test_curl_example_publishes_through_the_intake(allocation: ServiceProcess, module_kafka: KafkaSettings) -> None:
    case_system, reader = allocation.tokens["first-response"], allocation.tokens["reader"]
    env = {**os.environ, "QAF_TOKEN": case_system, "QAF_INTAKE_URL": allocation.url}

    result = await run_example("bash", "examples/publish_curl.sh", "C-CURL-1", "first-response", env=env)

    assert result.returncode == 0, result.stderr + result.stdout
    receipt = json.loads(result.stdout)
    assert receipt["accepted"] == 1 and len(receipt["event_ids"]) == 1
    await eventually(lambda: open_in(allocation, reader, "first-response", 1))
    assert await case_records(module_kafka, {"C-CURL-1"}) == [("case-opened", "C-CURL-1", b"C-CURL-1")]

    # the token publishes for its own service only: the intake refuses, curl exits non-zero
    refused = await run_example("bash", "examples/publish_curl.sh", "C-CURL-2", "children-in-care", env=env)
    assert refused.returncode == 22
    assert "this token publishes for first-response only" in refused.stdout
    assert await case_records(module_kafka, {"C-CURL-2"}) == []


async def test_python_http_example_publishes_a_batch(allocation: ServiceProcess, module_kafka: KafkaSettings) -> None:
    token, reader = allocation.tokens["safeguarding-and-support"], allocation.tokens["reader"]
    env = {**os.environ, "QAF_TOKEN": token, "QAF_INTAKE_URL": allocation.url}

    result = await run_example(sys.executable, "examples/publish_http.py", "--service", "safeguarding-and-support",
                               "C-HTTP-1", "C-HTTP-2", env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == 4
    # both cases were open during the window (one closed today): both count
    await eventually(lambda: open_in(allocation, reader, "safeguarding-and-support", 2))
    records = await eventually(lambda: _all_four(module_kafka))
    assert records == [("case-opened", "C-HTTP-1", b"C-HTTP-1"), ("case-updated", "C-HTTP-1", b"C-HTTP-1"),
                       ("case-opened", "C-HTTP-2", b"C-HTTP-2"), ("case-closed", "C-HTTP-2", b"C-HTTP-2")]


async def _all_four(kafka: KafkaSettings) -> list[tuple[str, str, bytes]] | None:
    found = await case_records(kafka, {"C-HTTP-1", "C-HTTP-2"})
    # one case's events keep their order (one key, one partition); across cases any order
    found.sort(key=lambda r: r[1])
    return found if len(found) == 4 else None


async def test_kafka_example_produces_straight_to_the_topic(allocation: ServiceProcess,
                                                            module_kafka: KafkaSettings) -> None:
    reader = allocation.tokens["reader"]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": module_kafka.bootstrap_servers,
           "KAFKA_TOPIC_PREFIX": module_kafka.topic_prefix}

    result = await run_example(sys.executable, "examples/publish_kafka.py", "--service", "children-in-care",
                               "C-KAFKA-1", "C-KAFKA-2", env=env)

    assert result.returncode == 0, result.stderr
    sent = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(sent) == 2
    await eventually(lambda: open_in(allocation, reader, "children-in-care", 2))
    assert sorted(await case_records(module_kafka, {"C-KAFKA-1", "C-KAFKA-2"})) == [
        ("case-opened", "C-KAFKA-1", b"C-KAFKA-1"), ("case-opened", "C-KAFKA-2", b"C-KAFKA-2")]
    # the allocation service took both: nothing went to the dead-letter topic
    assert await read_all(module_kafka, topics.CASES.dlq) == []


def test_the_examples_named_on_the_page_exist() -> None:
    page = (ROOT / "docs" / "publishing.md").read_text()
    for example in ("examples/publish_curl.sh", "examples/publish_http.py", "examples/publish_kafka.py"):
        assert example in page
        assert (ROOT / example).exists()
    assert Path(ROOT / "docs" / "asyncapi.json").exists() and "asyncapi.json" in page
