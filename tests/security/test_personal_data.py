"""A small flow through the running platform with free-text evidence and notes, at DEBUG logging:
the free text never reaches Kafka (every topic read back) nor the logs, and no token or password is
ever logged."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import client_options
from qaf_shared.logging import configure_logging
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.integration.audits.test_audits_service import allocated, form
from tests.security.conftest import Platform
from tests.support import reliability
from tests.support.kafka import produce

pytestmark = pytest.mark.integration


async def test_free_text_tokens_and_passwords_never_reach_kafka_or_the_logs(
    platform: Platform, capfd: pytest.CaptureFixture[str]
) -> None:
    marker = uuid.uuid4().hex[:8]
    evidence = f"Mother disclosed that father hit the child on Tuesday {marker}"
    note = f"Worker unreachable; grandmother very worried {marker}"
    configure_logging("personal-data-test", "DEBUG")
    try:
        audits, escalations, allocation = (platform.services[s] for s in ("audits", "escalations", "allocation"))
        case = new_envelope(CaseOpened(case_id="C-PD-1", service=Service.FIRST_RESPONSE, team_id="T-1",
                                       worker_id="W-1", team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED,
                                       opened_on=date(2013, 5, 1)), source="case-system")
        await produce(platform.kafka, case, allocated("A-PD-1", auditor="AUD-1"))
        await eventually(lambda: audits.runtime.pool.fetchval("SELECT count(*) = 1 FROM audits WHERE audit_id = 'A-PD-1'"))
        submission = form()
        submission["summary"] = evidence
        for domain in submission["domains"]:
            domain["evidence"] = evidence
        async with httpx.AsyncClient(timeout=60) as http:
            done = await http.post(f"{audits.url}/audits/A-PD-1/submission", json=submission,
                                   headers=audits.auth("auditor"))
            assert done.status_code == 201, done.text

            async def raised() -> bool:
                response = await http.post(f"{escalations.url}/escalations", headers=escalations.auth("cpa"), json={
                    "escalation_id": "E-PD-1", "case_id": "C-PD-1", "reason": "drift-and-delay",
                    "raised_on": "2013-12-20", "note": note})
                return response.status_code in (201, 409)  # 409: raised by an earlier try

            await eventually(raised)  # once escalations has seen the case
            complaint = await http.post(f"{escalations.url}/complaints", headers=escalations.auth("complaints"),
                                        json={"category": "delay", "received_on": "2013-10-14",
                                              "service": "first-response", "note": note})
            assert complaint.status_code == 201, complaint.text
            intake = await http.post(f"{allocation.url}/intake/events", headers=allocation.auth("case-system"),
                                     json=new_envelope(case.payload.model_copy(update={"case_id": "C-PD-2"}),
                                                       source="case-system").model_dump(mode="json"))
            assert intake.status_code == 202, intake.text
            refused = await http.get(f"{audits.url}/audits", headers={"Authorization": "Bearer qaf_not_a_token"})
            assert refused.status_code == 401
        # What the flow published reached the consumers (so it went through Kafka and the logs).
        reporting = platform.services["reporting"].runtime.pool
        await eventually(lambda: reporting.fetchval(
            "SELECT count(DISTINCT event_type) >= 3 FROM processed_events WHERE event_type IN "
            "('audit-completed', 'escalation-raised', 'complaint-logged')"), timeout=60)

        admin = AIOKafkaAdminClient(**client_options(platform.kafka))
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(platform.kafka.topic_prefix)]
        finally:
            await admin.close()
        on_kafka = await read_everything(platform, names)
        published = b"\n".join((r.value or b"") + b"".join(v for _, v in r.headers) for r in on_kafka)
    finally:
        structlog.reset_defaults()
        import logging

        logging.getLogger().handlers[:] = []
    out, err = capfd.readouterr()
    logs = out + err
    tokens = [token for served in platform.services.values() for token in served.secrets]
    passwords = ["qaf-dev-password", "postgres:postgres@", "qaf_not_a_token"]
    assert len(on_kafka) > 5 and b"audit-completed" in published and b"complaint-logged" in published
    assert "consumer" in logs or "outbox" in logs or "service" in logs, "logs were captured"
    assert marker.encode() not in published, "free text reached Kafka"
    assert marker not in logs, "free text reached the logs"
    assert not [t for t in tokens if t in logs], "a token reached the logs"
    assert not [p for p in passwords if p in logs], "a password reached the logs"
    reliability.record(
        "personal data",
        "A flow with free-text audit evidence, escalation and complaint notes and HTTP intake, logged at DEBUG: "
        "every topic read back and every log line scanned.",
        topics_read=len(names), messages_read=len(on_kafka), log_bytes_scanned=len(logs),
        free_text_on_kafka=0, free_text_in_logs=0, tokens_in_logs=0, passwords_in_logs=0,
    )


async def read_everything(platform: Platform, names: list[str]) -> list:
    """Every record of every topic, from the beginning, until the topics have nothing more."""
    consumer = AIOKafkaConsumer(*names, **client_options(platform.kafka), group_id=f"pd-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list = []
    try:
        quiet = 0
        while quiet < 4:
            batch = await consumer.getmany(timeout_ms=500)
            got = [r for part in batch.values() for r in part]
            records += got
            quiet = 0 if got else quiet + 1
        return records
    finally:
        await consumer.stop()
