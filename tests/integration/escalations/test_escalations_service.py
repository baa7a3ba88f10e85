"""The escalations service on the real broker and database: escalations and complaints in, events
out valid against their contracts, bad input refused without losing anything, overdue exactly once
across a restart, and complaint timeliness figures that match the events."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qaf_shared import topics
from qaf_shared.clock import FixedClock
from qaf_shared.contracts import CaseClosed, CaseOpened
from qaf_shared.envelope import Envelope, decode, new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.services import RunningService, running

from qaf_escalations.app import definition
from qaf_escalations.settings import EscalationsSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
TODAY = date(2014, 3, 31)  # the service's clock: the end of the simulated year


def settings(database_url: str, kafka: KafkaSettings) -> EscalationsSettings:
    return EscalationsSettings(
        database_url=database_url, kafka=kafka, consumer_retry_backoff_s=0.2, outbox_poll_interval_s=0.1,
        overdue_sweep_interval_s=0.2,
    )


def service(database_url: str, kafka: KafkaSettings):  # type: ignore[no-untyped-def]
    return running(definition(settings(database_url, kafka), clock=FixedClock(TODAY)))


def opened(case_id: str, service: Service = Service.SAFEGUARDING_AND_SUPPORT, on: date = date(2013, 4, 2)):
    return new_envelope(
        CaseOpened(case_id=case_id, service=service, team_id=f"T-{case_id}", worker_id="W-1",
                   team_manager_id=f"M-{case_id}", legal_status=LegalStatus.CHILD_PROTECTION, opened_on=on),
        source="case-system",
    )


async def cases_known(svc: RunningService, *case_ids: str) -> None:
    pool = svc.runtime.pool
    await eventually(
        lambda: pool.fetchval("SELECT count(*) = $2 FROM cases WHERE case_id = ANY($1::text[]) AND service IS NOT NULL",
                              list(case_ids), len(case_ids))
    )


async def events(kafka: KafkaSettings, topic: topics.Topic, expect: int) -> list[Envelope[Any]]:
    records = await read_topic(kafka, topic.name, expect=expect)
    decoded = [decode(r.value, expected_topic=topic.name) for r in records]
    for record, envelope in zip(records, decoded, strict=True):
        assert record.key == envelope.key
    return decoded


def field_of(response: Any) -> list[str]:
    return [err["loc"][-1] for err in response.json()["detail"]]


async def test_an_escalation_raised_progressed_and_resolved_publishes_valid_events_and_bad_input_is_refused(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with service(database_url, kafka_settings) as svc:
        await produce(kafka_settings, opened("C-1"), opened("C-2"))
        await cases_known(svc, "C-1", "C-2")
        cpa = await svc.token("CPA-07", "cpa")

        raised = await svc.http.post("/escalations", headers=cpa, json={
            "escalation_id": "E-1", "case_id": "C-1", "reason": "drift-and-delay", "raised_on": "2013-12-20",
            "note": "free text that stays in the service",
        })
        assert raised.status_code == 201, raised.text
        assert raised.json()["due_on"] == "2013-12-31"  # five working days over Christmas
        assert raised.json()["addressed_to_manager_id"] == "M-C-1"

        progressed = await svc.http.post("/escalations/E-1/progress", headers=cpa, json={"progressed_on": "2013-12-27"})
        assert progressed.status_code == 200, progressed.text
        assert progressed.json()["stage"] == "team-manager"
        assert progressed.json()["due_on"] == "2014-01-06"  # New Year's Day skipped

        manager_side = await svc.token("M-C-1", "case-system")
        resolved = await svc.http.post("/escalations/E-1/resolve", headers=manager_side,
                                       json={"resolved_on": "2014-01-03", "outcome": "plan-changed"})
        assert resolved.status_code == 200, resolved.text

        out = await events(kafka_settings, topics.ESCALATIONS, expect=3)
        assert [e.event_type for e in out] == ["escalation-raised", "escalation-progressed", "escalation-resolved"]
        assert {e.payload.escalation_id for e in out} == {"E-1"}
        assert out[0].payload.raised_by_role == "cpa" and out[0].payload.raised_by_id == "CPA-07"
        assert out[0].payload.theme == "timeliness-drift" and out[0].payload.service == "safeguarding-and-support"
        assert out[2].payload.within_timescale is True and out[2].payload.outcome == "plan-changed"
        assert out[2].occurred_at.date() == date(2014, 1, 3)
        assert all(b"free text" not in e.to_bytes() for e in out)

        # --- bad input: a clear 4xx naming the field, and nothing stored changes -------------------
        before = await svc.runtime.pool.fetchval("SELECT count(*) FROM escalations")
        unknown = await svc.http.post("/escalations", headers=cpa, json={
            "case_id": "C-NOPE", "reason": "visits-not-done", "raised_on": "2013-12-20"})
        assert unknown.status_code == 422 and field_of(unknown) == ["case_id"]
        future = await svc.http.post("/escalations", headers=cpa, json={
            "case_id": "C-1", "reason": "visits-not-done", "raised_on": "2014-04-01"})
        assert future.status_code == 422 and field_of(future) == ["raised_on"]
        assert "in the future" in future.text
        bad_reason = await svc.http.post("/escalations", headers=cpa, json={
            "case_id": "C-1", "reason": "bad-weather", "raised_on": "2013-12-20"})
        assert bad_reason.status_code == 422 and field_of(bad_reason) == ["reason"]
        as_iro = await svc.http.post("/escalations", headers=cpa, json={
            "case_id": "C-1", "reason": "visits-not-done", "raised_on": "2013-12-20", "raised_by_role": "iro"})
        assert as_iro.status_code == 403 and "raises escalations as cpa" in as_iro.text
        desk = await svc.token("DESK-1", "complaints")
        assert (await svc.http.post("/escalations", headers=desk, json={
            "case_id": "C-1", "reason": "visits-not-done", "raised_on": "2013-12-20"})).status_code == 403
        again = await svc.http.post("/escalations/E-1/resolve", headers=cpa,
                                    json={"resolved_on": "2014-01-06", "outcome": "resolved"})
        assert again.status_code == 409 and "already resolved (plan-changed)" in again.json()["detail"]
        assert (await svc.http.post("/escalations/E-404/progress", headers=cpa,
                                    json={"progressed_on": "2014-01-06"})).status_code == 404
        assert await svc.runtime.pool.fetchval("SELECT count(*) FROM escalations") == before

        iro = await svc.token("IRO-3", "iro")
        r = await svc.http.post("/escalations", headers=iro, json={
            "escalation_id": "E-2", "case_id": "C-2", "reason": "core-group-not-functioning",
            "raised_on": "2014-01-06", "stage": "service-manager"})
        assert r.status_code == 201, r.text
        not_raiser = await svc.http.post("/escalations/E-2/progress", headers=cpa, json={"progressed_on": "2014-01-07"})
        assert not_raiser.status_code == 403
        backwards = await svc.http.post("/escalations/E-2/progress", headers=iro,
                                        json={"progressed_on": "2014-01-07", "to_stage": "team-manager"})
        assert backwards.status_code == 409 and "backwards" in backwards.json()["detail"]
        no_manager = await svc.http.post("/escalations/E-2/progress", headers=iro, json={"progressed_on": "2014-01-07"})
        assert no_manager.status_code == 422 and field_of(no_manager) == ["addressed_to_manager_id"]

        # a closed case takes no new escalation; a case event dated in the future is dead-lettered
        await produce(
            kafka_settings,
            new_envelope(CaseClosed(case_id="C-2", closed_on=date(2014, 1, 10)), source="case-system"),
            opened("C-FUTURE", on=date(2014, 6, 1)),
        )
        await eventually(lambda: svc.runtime.pool.fetchval("SELECT closed_on FROM cases WHERE case_id = 'C-2'"))
        closed = await svc.http.post("/escalations", headers=iro, json={
            "case_id": "C-2", "reason": "visits-not-done", "raised_on": "2014-01-13"})
        assert closed.status_code == 409 and "was closed on 2014-01-10" in closed.json()["detail"]
        dead = await read_topic(kafka_settings, topics.CASES.dlq, expect=1)
        assert len(dead) == 1 and b"opened_on 2014-06-01 is in the future" in dict(dead[0].headers)["x-dlq-reason"]

        detail = await svc.http.get("/escalations/E-1", headers=cpa)
        assert [s["stage"] for s in detail.json()["stages"]] == ["informal", "team-manager"]
        assert detail.json()["notes"][0]["note"] == "free text that stays in the service"
        reporting = await svc.token("PERF", "reporting")
        assert "notes" not in (await svc.http.get("/escalations/E-1", headers=reporting)).json()

        report = await svc.http.get("/escalations/timeliness", headers=reporting, params={"as_of": "2014-01-10"})
        assert report.status_code == 200, report.text
        rows = {(r["stage"], r["service"]): r for r in report.json()["rows"]}
        ss = "safeguarding-and-support"
        assert set(rows) == {("informal", ss), ("team-manager", ss), ("service-manager", ss)}
        for stage in ("informal", "team-manager"):
            assert (rows[(stage, ss)]["answered"], rows[(stage, ss)]["answered_within_timescale"]) == (1, 1)
        assert (rows[("service-manager", ss)]["open"], rows[("service-manager", ss)]["open_overdue"]) == (1, 0)


def _cli_sweep(database_url: str, as_of: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url, "QAF_ESCALATIONS_TODAY": TODAY.isoformat()}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from qaf_escalations.app import main; sys.exit(main())",
         "sweep-overdue", "--as-of", as_of],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


async def test_an_overdue_stage_is_reported_exactly_once_across_a_restart(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with service(database_url, kafka_settings) as svc:
        await produce(kafka_settings, opened("C-1"), opened("C-2"))
        await cases_known(svc, "C-1", "C-2")
        cpa = await svc.token("CPA-01", "cpa")
        for escalation_id, case_id in (("E-LATE", "C-1"), ("E-ANSWERED", "C-2")):
            r = await svc.http.post("/escalations", headers=cpa, json={
                "escalation_id": escalation_id, "case_id": case_id, "reason": "strategy-meeting-not-held",
                "raised_on": "2013-10-03"})
            assert r.status_code == 201, r.text  # both due 10 October
        r = await svc.http.post("/escalations/E-ANSWERED/resolve", headers=cpa,
                                json={"resolved_on": "2013-10-10", "outcome": "resolved"})
        assert r.status_code == 200
        # Dates move on: a later request carries the service's event clock to 14 October, and the
        # background sweep reports E-LATE's informal stage overdue by itself.
        desk = await svc.token("DESK-1", "complaints")
        r = await svc.http.post("/complaints", headers=desk,
                                json={"category": "delay", "received_on": "2013-10-14", "service": "first-response"})
        assert r.status_code == 201
        overdue = [e for e in await events(kafka_settings, topics.ESCALATIONS, expect=4)
                   if e.event_type == "escalation-overdue"]
        assert [(e.payload.escalation_id, e.payload.stage, e.payload.due_on) for e in overdue] == [
            ("E-LATE", "informal", date(2013, 10, 10))]
        assert overdue[0].occurred_at.date() == date(2013, 10, 11)

    async with service(database_url, kafka_settings) as svc:  # the same service, restarted
        admin = await svc.token("QA-1", "qa-admin")
        swept = await svc.http.post("/escalations/overdue-sweep", headers=admin, json={"as_of": "2013-10-20"})
        assert swept.status_code == 200 and swept.json()["overdue"] == []
        future = await svc.http.post("/escalations/overdue-sweep", headers=admin, json={"as_of": "2014-04-01"})
        assert future.status_code == 422 and field_of(future) == ["as_of"]
        r = await svc.http.post("/escalations/E-LATE/progress", headers=admin, json={"progressed_on": "2013-10-15"})
        assert r.status_code == 200 and r.json()["due_on"] == "2013-10-22"

    # with the service stopped, the command line reports the team manager's stage (due 22 October)
    cli = await asyncio.to_thread(_cli_sweep, database_url, "2013-10-23")
    assert cli.returncode == 0, cli.stderr
    assert "E-LATE" in cli.stdout and "team-manager" in cli.stdout and "1 stage(s)" in cli.stdout
    again = await asyncio.to_thread(_cli_sweep, database_url, "2013-10-30")
    assert "0 stage(s)" in again.stdout

    async with service(database_url, kafka_settings) as svc:  # its outbox relay publishes what the CLI recorded
        out = await events(kafka_settings, topics.ESCALATIONS, expect=6)
        overdue = Counter((e.payload.escalation_id, e.payload.stage) for e in out if e.event_type == "escalation-overdue")
        assert overdue == {("E-LATE", "informal"): 1, ("E-LATE", "team-manager"): 1}
        await asyncio.sleep(1.0)  # a background sweep reporting a stage twice would show by now
        assert len(await read_topic(kafka_settings, topics.ESCALATIONS.name, expect=7, timeout=2)) == 6


async def test_complaint_timeliness_by_stage_and_service_matches_the_events(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with service(database_url, kafka_settings) as svc:
        await produce(kafka_settings, opened("C-9", service=Service.CHILDREN_IN_CARE))
        await cases_known(svc, "C-9")
        desk = await svc.token("DESK-1", "complaints")

        async def post(path: str, body: dict[str, Any], expected: int = 200) -> dict[str, Any]:
            r = await svc.http.post(path, headers=desk, json=body)
            assert r.status_code == expected, r.text
            return r.json()

        a = await post("/complaints", {"case_id": "C-9", "category": "communication", "received_on": "2013-10-02"}, 201)
        assert a["service"] == "children-in-care" and a["theme"] == "responsiveness-to-families"
        assert a["due_on"] == "2013-10-16"
        await post(f"/complaints/{a['complaint_id']}/resolve", {"resolved_on": "2013-10-15", "outcome": "not-upheld"})
        await post(f"/complaints/{a['complaint_id']}/escalate", {"requested_on": "2013-10-21"})
        b = await post("/complaints", {"service": "children-in-care", "category": "delay", "received_on": "2013-10-02"},
                       201)
        extended = await post(f"/complaints/{b['complaint_id']}/extend",
                              {"extended_on": "2013-10-14", "reason": "complex-complaint"})
        assert extended["due_on"] == "2013-10-30" and extended["stages"][0]["extensions"][0]["to_working_days"] == 20
        await post(f"/complaints/{b['complaint_id']}/resolve", {"resolved_on": "2013-10-29", "outcome": "upheld"})
        c = await post("/complaints", {"service": "first-response", "category": "staff-conduct",
                                       "received_on": "2013-11-01"}, 201)
        await post(f"/complaints/{c['complaint_id']}/resolve", {"resolved_on": "2013-11-20", "outcome": "partly-upheld"})
        d = await post("/complaints", {"service": "first-response", "category": "case-transfer",
                                       "received_on": "2013-11-04"}, 201)
        await post(f"/complaints/{d['complaint_id']}/escalate", {"requested_on": "2013-11-25"})

        # refusals change nothing
        r = await svc.http.post("/complaints", headers=desk, json={"category": "weather", "received_on": "2013-11-04",
                                                                    "service": "first-response"})
        assert r.status_code == 422 and field_of(r) == ["category"]
        r = await svc.http.post("/complaints", headers=desk, json={"category": "delay", "received_on": "2013-11-04"})
        assert r.status_code == 422 and field_of(r) == ["service"]
        r = await svc.http.post(f"/complaints/{a['complaint_id']}/extend", headers=desk,
                                json={"extended_on": "2013-10-22", "reason": "other", "working_days": 70})
        assert r.status_code == 422 and field_of(r) == ["working_days"] and "at most 65" in r.text
        r = await svc.http.post(f"/complaints/{c['complaint_id']}/resolve", headers=desk,
                                json={"resolved_on": "2013-11-21", "outcome": "upheld"})
        assert r.status_code == 409 and "already answered" in r.text
        assert (await svc.http.post("/complaints", headers=await svc.token("CPA-1", "cpa"), json={
            "category": "delay", "received_on": "2013-11-04", "service": "first-response"})).status_code == 403

        out = await events(kafka_settings, topics.COMPLAINTS, expect=9)
        assert Counter(e.event_type for e in out) == {"complaint-logged": 6, "complaint-resolved": 3}
        logged = Counter((e.payload.stage, e.payload.service) for e in out if e.event_type == "complaint-logged")
        answered = Counter((e.payload.stage, e.payload.service) for e in out if e.event_type == "complaint-resolved")
        within = Counter((e.payload.stage, e.payload.service) for e in out
                         if e.event_type == "complaint-resolved" and e.payload.within_timescale)

        report = await svc.http.get("/complaints/timeliness", headers=await svc.token("PERF", "reporting"),
                                    params={"as_of": "2013-12-31"})
        assert report.status_code == 200, report.text
        rows = {(row["stage"], row["service"]): row for row in report.json()["rows"]}
        assert set(rows) == set(logged)
        for key, row in rows.items():
            assert row["received"] == logged[key]
            assert row["answered"] == answered[key]
            assert row["answered_within_timescale"] == within[key]
        cic1 = rows[("stage-1", "children-in-care")]
        assert (cic1["answered"], cic1["answered_within_timescale"], cic1["extended"]) == (2, 2, 1)
        fr1 = rows[("stage-1", "first-response")]
        assert (fr1["answered_late"], fr1["escalated_unanswered"]) == (1, 1)
        assert rows[("stage-2", "first-response")]["open"] == 1
