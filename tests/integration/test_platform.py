"""The foundation on the real broker and database: contracts, idempotency, dead letters, crashes,
the outbox and bearer tokens. Each test has its own database and its own topic prefix."""

from __future__ import annotations

import asyncio
import signal
from datetime import date
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from qaf_shared import topics
from qaf_shared.contracts import CaseOpened
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.kafka import OutboxRelay, enqueue, ensure_topics, make_producer
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.probe import MIGRATIONS, probe_definition
from tests.support.processes import ProbeProcess
from tests.support.services import running

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def case_opened(case_id: str) -> CaseOpened:
    return CaseOpened(
        case_id=case_id, service=Service.FIRST_RESPONSE, team_id="T-FR-1", worker_id="W-1",
        team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1),
    )


async def test_every_contract_round_trips_through_kafka(kafka_settings: KafkaSettings) -> None:
    await ensure_topics(kafka_settings)
    sent = {event_type: new_envelope(payload, source="contract-test") for event_type, payload in EXAMPLES.items()}
    await produce(kafka_settings, *sent.values())
    for topic in topics.CATALOGUE:
        expected = [e for e in sent.values() if e.topic == topic]
        if not expected:
            continue
        records = await read_topic(kafka_settings, topic.name, expect=len(expected))
        received = {decode(r.value, expected_topic=topic.name).event_type: r for r in records}
        for envelope in expected:
            record = received[envelope.event_type]
            assert record.key == envelope.key
            assert decode(record.value) == envelope
    assert len(sent) == 20


async def test_an_event_delivered_twice_is_applied_once(database_url: str, kafka_settings: KafkaSettings) -> None:
    async with running(probe_definition(database_url, kafka_settings)) as service:
        event = new_envelope(case_opened("C-TWICE"), source="case-system")
        await produce(kafka_settings, event, event)
        later = new_envelope(case_opened("C-AFTER"), source="case-system")
        await produce(kafka_settings, later)
        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 2 FROM seen"))
        # the duplicate came before the later event on the same partition? not necessarily: check both
        await eventually(
            lambda: pool.fetchval(
                "SELECT count(*) = 2 FROM processed_events WHERE event_id = ANY($1::uuid[])",
                [event.event_id, later.event_id],
            )
        )
        await asyncio.sleep(1.0)  # give a wrongly re-applied duplicate the time to show
        assert await pool.fetchval("SELECT times FROM applications WHERE key = 'C-TWICE'") == 1
        assert await pool.fetchval("SELECT count(*) FROM seen") == 2


async def test_a_malformed_message_is_dead_lettered_and_the_next_is_processed(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with running(probe_definition(database_url, kafka_settings)) as service:
        bad_key = b"C-BAD"
        unknown_field = new_envelope(case_opened("C-BAD"), source="case-system").model_dump(mode="json")
        unknown_field["payload"]["child_name"] = "not allowed"
        import orjson

        await produce(
            kafka_settings,
            (topics.CASES.name, b"{not json", bad_key),
            (topics.CASES.name, orjson.dumps(unknown_field), bad_key),
            new_envelope(case_opened("REFUSE-1"), source="case-system"),
            new_envelope(case_opened("C-BAD"), source="case-system"),
        )
        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM seen WHERE key = 'C-BAD'"))
        dead = await read_topic(kafka_settings, topics.CASES.dlq, expect=3)
        reasons = sorted(dict(r.headers)["x-dlq-reason"].decode() for r in dead)
        assert len(dead) == 3
        assert any("not valid JSON" in reason for reason in reasons)
        assert any("child_name" in reason and "Extra inputs are not permitted" in reason for reason in reasons)
        assert any("refused by a rule" in reason for reason in reasons)
        for record in dead:
            headers = dict(record.headers)
            assert headers["x-dlq-origin-topic"] == (kafka_settings.topic_prefix + topics.CASES.name).encode()
            assert headers["x-dlq-consumer"] == b"probe"
        assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 3
        metrics = (await service.http.get("/metrics")).text
        assert 'qaf_dead_lettered_total{consumer="probe"' in metrics


async def test_a_consumer_killed_between_database_commit_and_offset_commit_applies_nothing_twice(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    await ensure_topics(kafka_settings)
    keys = ["K-1", "K-2", "K-CRASH", "K-4", "K-5"]
    # One key's events share a partition; order across keys does not matter to the assertion.
    await produce(kafka_settings, *(new_envelope(case_opened(k), source="case-system") for k in keys))

    crashing = await ProbeProcess(database_url, kafka_settings, crash_key="K-CRASH").start(wait_ready=False)
    returncode = await asyncio.to_thread(crashing.process.wait, 120)
    assert returncode == -signal.SIGKILL, "the probe should have killed itself after the commit"

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT times FROM probe.applications WHERE key = 'K-CRASH'") == 1
        restarted = await ProbeProcess(database_url, kafka_settings).start()
        try:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) = 5 FROM probe.applications"), timeout=90
            )
            await asyncio.sleep(2.0)
            rows = await conn.fetch("SELECT key, times FROM probe.applications ORDER BY key")
            assert {r["key"]: r["times"] for r in rows} == {k: 1 for k in keys}
        finally:
            assert await restarted.terminate() == 0, "a SIGTERMed consumer exits cleanly"
    finally:
        await conn.close()


async def test_an_outbox_event_is_published_exactly_when_its_transaction_commits(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    await ensure_topics(kafka_settings)
    url = await migrate_service(database_url, "probe", "probe-password", MIGRATIONS)
    pool = await connect_pool(url, "probe")
    producer = make_producer(kafka_settings)
    await producer.start()
    relay = OutboxRelay(dsn=url, schema="probe", producer=producer, poll_interval_s=0.2,
                        topic_prefix=kafka_settings.topic_prefix)
    task = asyncio.create_task(relay.run())
    try:
        rolled_back = new_envelope(case_opened("C-ROLLED-BACK"), source="probe")
        committed = new_envelope(case_opened("C-COMMITTED"), source="probe")
        with pytest.raises(RuntimeError):
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, rolled_back)
                raise RuntimeError("the change fails after the event was written")
        records = await read_topic(kafka_settings, topics.CASES.name, expect=1, timeout=3)
        assert records == []
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, committed)
        records = await read_topic(kafka_settings, topics.CASES.name, expect=2, timeout=10)
        assert [decode(r.value).event_id for r in records] == [committed.event_id]
        await eventually(lambda: pool.fetchval("SELECT published_at IS NOT NULL FROM outbox"))
    finally:
        relay.stop()
        await task
        await producer.stop()
        await pool.close()


async def test_requests_without_a_valid_token_get_401_and_a_wrong_role_403(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with running(probe_definition(database_url, kafka_settings)) as service:
        assert (await service.http.get("/health")).status_code == 200
        ready = await service.http.get("/ready")
        assert ready.status_code == 200, ready.text
        missing = await service.http.get("/probe/seen")
        assert missing.status_code == 401
        assert "bearer token is required" in missing.json()["detail"]
        wrong = await service.http.get("/probe/seen", headers={"Authorization": "Bearer qaf_nope_nope"})
        assert wrong.status_code == 401
        forbidden = await service.http.get("/probe/seen", headers=await service.token("T-PERF", "reporting"))
        assert forbidden.status_code == 403
        assert "qa-admin" in forbidden.json()["detail"]
        admin = await service.token("U-QA-01", "qa-admin")
        allowed = await service.http.get("/probe/seen", headers=admin)
        assert allowed.status_code == 200
        assert allowed.json()["principal"] == "U-QA-01"
        token_id = admin["Authorization"].split("_")[1]
        from qaf_shared.http import TokenStore

        assert await TokenStore(service.runtime.pool).revoke(token_id)
        assert (await service.http.get("/probe/seen", headers=admin)).status_code == 401
        stored = await service.runtime.pool.fetchval("SELECT count(*) FROM api_tokens WHERE token_sha256 = $1",
                                                     admin["Authorization"].split(" ")[1].encode())
        assert stored == 0, "tokens are stored hashed, never in the clear"


async def test_a_service_role_can_neither_read_nor_write_another_services_schema(database_url: str) -> None:
    url_a = await migrate_service(database_url, "probe_a", "password-a", MIGRATIONS)
    url_b = await migrate_service(database_url, "probe_b", "password-b", MIGRATIONS)
    assert "qaf_probe_a" in url_a and "qaf_probe_b" in url_b
    conn = await asyncpg.connect(url_a)
    try:
        await conn.execute("INSERT INTO probe_a.seen VALUES ($1, 'x', 'own')", uuid4())
        assert await conn.fetchval("SELECT count(*) FROM probe_a.seen") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM probe_b.seen")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("INSERT INTO probe_b.seen VALUES ($1, 'x', 'other')", uuid4())
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.smuggled (x int)")
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(url_a.replace("password-a", "wrong"))


async def test_the_http_intake_publishes_valid_events_once_and_refuses_a_bad_batch_whole(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with running(probe_definition(database_url, kafka_settings)) as service:
        token = await service.token("first-response", "case-system")
        first = new_envelope(case_opened("C-INTAKE-1"), source="case-system").model_dump(mode="json")
        second = new_envelope(case_opened("C-INTAKE-2"), source="case-system").model_dump(mode="json")

        bad = dict(second, payload={**second["payload"], "child_name": "x"})
        refused = await service.http.post("/intake/events", json=[first, bad], headers=token)
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {"index": 1, "error": refused.json()["detail"][0]["error"]}
        ] and "child_name" in refused.json()["detail"][0]["error"]

        other_service = dict(first, payload={**first["payload"], "service": "children-in-care"})
        forbidden = await service.http.post("/intake/events", json=other_service, headers=token)
        assert forbidden.status_code == 403 and "first-response only" in forbidden.json()["detail"]

        accepted = await service.http.post("/intake/events", json=[first, second], headers=token)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["accepted"] == 2
        again = await service.http.post("/intake/events", json=first, headers=token)
        assert again.status_code == 202

        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 2 FROM seen"))
        records = await read_topic(kafka_settings, topics.CASES.name, expect=3, timeout=5)
        assert sorted(decode(r.value).payload.case_id for r in records) == ["C-INTAKE-1", "C-INTAKE-2"]
