"""The audits service on the real broker and database: allocation in, submission over HTTP, events out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from datetime import UTC, date, datetime
from typing import Any

import pytest

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.clock import Clock, FixedClock
from qaf_shared.contracts import AuditAllocated, AuditCompleted, AuditReallocated, PracticeConcernRaised
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import ConcernReason, Grade, Service

from qaf_audits.adapters.template_files import packaged_templates
from qaf_audits.app import definition
from qaf_audits.entrypoints import cli
from qaf_audits.settings import AuditsSettings
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.services import RunningService, running

pytestmark = pytest.mark.integration

LIGHT_TOUCH = next(t for t in packaged_templates() if t.id == "light-touch")
SECRET = "Evidence: father seen at 7 Sample Street, said the school never rang"


def settings_for(database_url: str, kafka: KafkaSettings, **changes: Any) -> AuditsSettings:
    values: dict[str, Any] = dict(
        database_url=database_url, kafka=kafka, consumer_retry_backoff_s=0.2, outbox_poll_interval_s=0.2,
        overdue_sweep_interval_s=0.3,
    )
    values.update(changes)
    return AuditsSettings(**values)


def audits_service(database_url: str, kafka: KafkaSettings, *, clock: Clock | None = FixedClock(None), **changes: Any):
    """The service; by default with a clock that never sweeps on its own, so tests sweep explicitly."""
    return running(definition(settings_for(database_url, kafka, **changes), clock=clock))


def allocated(audit_id: str, *, auditor: str = "M-AUD-1", due_on: date = date(2013, 10, 31),
              occurred_at: datetime = datetime(2013, 10, 1, 9, tzinfo=UTC), **changes: Any):
    values: dict[str, Any] = dict(
        audit_id=audit_id, case_id=f"C-{audit_id}", service=Service.SAFEGUARDING_AND_SUPPORT, team_id="T-SS-2",
        auditor_id=auditor, lead_auditor_id="M-LEAD-SS", month="2013-10", due_on=due_on, draw_id="D-2013-10",
        team_manager_id="M-TM-7", explanation="stratum safeguarding-and-support, draw position 1",
    )
    values.update(changes)
    return new_envelope(AuditAllocated(**values), source="allocation", occurred_at=occurred_at)


def form(grades: dict[str, str] | None = None, **changes: Any) -> dict[str, Any]:
    """A complete light-touch submission: every domain good, every question yes."""
    grades = grades or {d.id: "good" for d in LIGHT_TOUCH.domains}
    body: dict[str, Any] = {
        "completed_at": "2013-10-20T15:00:00+00:00",
        "domains": [
            {"domain": d, "grade": g, "evidence": SECRET, "themes": [{"theme": "fathers", "severity": "significant"}]}
            for d, g in grades.items()
        ],
        "answers": [{"question_id": q.id, "answer": "yes"} for q in LIGHT_TOUCH.questions],
        "social_worker_participated": True,
        "parents_spoken_to": True,
        "child_spoken_to": False,
        "summary": SECRET,
    }
    body.update(changes)
    return body


async def wait_for_audit(service: RunningService, audit_id: str, **expect: Any) -> None:
    pool = service.runtime.pool
    conditions = " AND ".join(f"{column} = ${i + 2}" for i, column in enumerate(expect))
    query = "SELECT count(*) = 1 FROM audits WHERE audit_id = $1" + (f" AND {conditions}" if conditions else "")
    await eventually(lambda: pool.fetchval(query, audit_id, *expect.values()))


async def events_on_audits_topic(kafka: KafkaSettings, *, expect: int, timeout: float = 20.0) -> list[Any]:
    records = await read_topic(kafka, topics.AUDITS.name, expect=expect, timeout=timeout)
    return [decode(r.value, expected_topic=topics.AUDITS.name) for r in records]


async def outbox_counts(service: RunningService) -> dict[str, int]:
    """Every event the service ever emitted, by type (the outbox is the only way out)."""
    rows = await service.runtime.pool.fetch("SELECT event_type, count(*) AS n FROM outbox GROUP BY event_type")
    return {r["event_type"]: r["n"] for r in rows}


async def test_an_allocated_audit_submitted_over_http_is_published_as_audit_completed(
    database_url: str, kafka_settings: KafkaSettings, capfd: pytest.CaptureFixture[str], service_logs: None
) -> None:
    async with audits_service(database_url, kafka_settings) as service:
        await produce(kafka_settings, allocated("A-2013-10-001", auditor="M-AUD-1"))
        await wait_for_audit(service, "A-2013-10-001")
        moved = AuditReallocated(
            audit_id="A-2013-10-001", case_id="C-A-2013-10-001", service=Service.SAFEGUARDING_AND_SUPPORT,
            previous_auditor_id="M-AUD-1", auditor_id="M-AUD-2", lead_auditor_id="M-LEAD-SS",
            due_on=date(2013, 11, 7), explanation="M-AUD-1 absent",
        )
        await produce(kafka_settings, new_envelope(moved, source="allocation",
                                                   occurred_at=datetime(2013, 10, 14, tzinfo=UTC)))
        await wait_for_audit(service, "A-2013-10-001", auditor_id="M-AUD-2")
        never = moved.model_copy(update={"audit_id": "A-NEVER-ALLOCATED"})
        await produce(kafka_settings, new_envelope(never, source="allocation"))
        (dead,) = await read_topic(kafka_settings, topics.ALLOCATIONS.dlq, expect=1)
        assert b"never allocated" in dict(dead.headers)["x-dlq-reason"]

        url = "/audits/A-2013-10-001/submission"
        former = await service.token("M-AUD-1", "auditor")
        assert (await service.http.post(url, json=form(), headers=former)).status_code == 403
        auditor = await service.token("M-AUD-2", "auditor")
        view = await service.http.get("/audits/A-2013-10-001", headers=auditor)
        assert view.status_code == 200
        assert view.json()["template"]["id"] == "light-touch" and view.json()["template_version"] == 1

        bad = form(grades={d.id: "good" for d in LIGHT_TOUCH.domains if d.id != "recording"} | {"review": "fab"},
                   completed_at="2013-09-01T10:00:00+00:00")
        bad["domains"][0]["themes"] = [{"theme": "housing", "severity": "minor"}]
        refused = await service.http.post(url, json=bad, headers=auditor)
        assert refused.status_code == 422
        problems = {e["field"]: e["msg"] for e in refused.json()["detail"]}
        assert set(problems) == {"domains[3].grade", "domains[0].themes[0].theme", "domains", "completed_at"}
        assert "'recording' must be graded" in problems["domains"]
        assert refused.json()["detail"][0]["loc"][0] == "body"

        accepted = await service.http.post(url, json=form(), headers=auditor)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["template_version"] == 1 and accepted.json()["concern_id"] is None

        (event,) = await events_on_audits_topic(kafka_settings, expect=1)
        completed = event.payload
        assert isinstance(completed, AuditCompleted)
        assert AuditCompleted.model_validate(completed.model_dump()) == completed
        assert (completed.audit_id, completed.auditor_id, completed.team_id) == ("A-2013-10-001", "M-AUD-2", "T-SS-2")
        assert completed.overall_grade is Grade.GOOD
        assert {g.domain for g in completed.grades} == {d.id for d in LIGHT_TOUCH.domains}
        assert {a.question_id for a in completed.indicator_answers} >= {"fathers-included", "early-help-offered"}
        assert completed.social_worker_participated and completed.parents_spoken_to and not completed.child_spoken_to
        assert event.occurred_at == datetime(2013, 10, 20, 15, tzinfo=UTC)
        assert event.correlation_id != event.event_id

        stored = (await service.http.get("/audits/A-2013-10-001", headers=auditor)).json()
        assert stored["status"] == "completed" and stored["completion"]["summary"] == SECRET
    raw = await read_topic(kafka_settings, topics.AUDITS.name, expect=1, timeout=5)
    assert all(SECRET.encode() not in r.value and b"Sample Street" not in r.value for r in raw)
    out, err = capfd.readouterr()
    assert "audit.completed" in out + err  # the service did log the completion...
    assert "Sample Street" not in out + err  # ...without a word of the evidence


async def test_a_duplicate_submission_is_refused_without_side_effects(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with audits_service(database_url, kafka_settings) as service:
        await produce(kafka_settings, allocated("A-DUP"))
        await wait_for_audit(service, "A-DUP")
        auditor = await service.token("M-AUD-1", "auditor")
        url = "/audits/A-DUP/submission"
        inadequate = form(grades={d.id: "inadequate" for d in LIGHT_TOUCH.domains})
        first, second = await asyncio.gather(
            service.http.post(url, json=form(), headers=auditor),
            service.http.post(url, json=inadequate, headers=auditor),
        )
        assert sorted([first.status_code, second.status_code]) == [201, 409]
        pool = service.runtime.pool
        before = await pool.fetchval("SELECT count(*) FROM outbox")
        again = await service.http.post(url, json=inadequate | {"summary": "changed my mind"}, headers=auditor)
        assert again.status_code == 409
        assert "already been completed" in again.json()["detail"]
        assert await pool.fetchval("SELECT count(*) FROM outbox") == before
        assert await pool.fetchval("SELECT summary FROM completions WHERE audit_id = 'A-DUP'") == SECRET
        events = await events_on_audits_topic(kafka_settings, expect=before)
        assert len([e for e in events if e.event_type == "audit-completed"]) == 1
        assert await outbox_counts(service) == {e.event_type: 1 for e in events}


async def test_an_inadequate_grade_raises_exactly_one_practice_concern_tracked_until_acknowledged(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with audits_service(database_url, kafka_settings) as service:
        await produce(kafka_settings, allocated("A-POOR"), allocated("A-FINE", case_id="C-FINE"))
        await wait_for_audit(service, "A-POOR")
        await wait_for_audit(service, "A-FINE")
        lead = await service.token("M-LEAD-SS", "lead-auditor")
        grades = {d.id: "good" for d in LIGHT_TOUCH.domains} | {"planning": "inadequate", "review": "inadequate"}
        poor = await service.http.post("/audits/A-POOR/submission", json=form(grades=grades), headers=lead)
        assert poor.status_code == 201, poor.text
        concern_id = poor.json()["concern_id"]
        fine = await service.http.post("/audits/A-FINE/submission", json=form(), headers=lead)
        assert fine.status_code == 201 and fine.json()["concern_id"] is None
        again = await service.http.post("/audits/A-POOR/submission", json=form(grades=grades), headers=lead)
        assert again.status_code == 409

        events = await events_on_audits_topic(kafka_settings, expect=3)
        assert await outbox_counts(service) == {"audit-completed": 2, "practice-concern-raised": 1}
        concerns = [e.payload for e in events if e.event_type == "practice-concern-raised"]
        assert len([e for e in events if e.event_type == "audit-completed"]) == 2
        assert len(concerns) == 1
        (concern,) = concerns
        assert isinstance(concern, PracticeConcernRaised)
        assert (concern.concern_id, concern.audit_id, concern.team_manager_id) == (concern_id, "A-POOR", "M-TM-7")
        assert concern.reason is ConcernReason.INADEQUATE_GRADE and concern.domains == ["planning", "review"]

        manager = await service.token("M-TM-7", "auditor")
        listed = await service.http.get("/practice-concerns?open=true", headers=manager)
        assert [c["concern_id"] for c in listed.json()] == [concern_id]
        other = await service.token("M-TM-9", "auditor")
        assert (await service.http.get("/practice-concerns", headers=other)).json() == []
        ack_url = f"/practice-concerns/{concern_id}/acknowledge"
        assert (await service.http.post(ack_url, json={}, headers=other)).status_code == 403
        ack = await service.http.post(ack_url, json={"response": "discussed in supervision"}, headers=manager)
        assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "M-TM-7"
        assert (await service.http.post(ack_url, json={}, headers=manager)).status_code == 409
        assert (await service.http.get("/practice-concerns?open=true", headers=manager)).json() == []


async def test_an_overdue_audit_is_flagged_once_across_restarts(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    # First life: two audits due 31 October, one done in time; a third due mid-November.
    async with audits_service(database_url, kafka_settings) as service:
        await produce(
            kafka_settings,
            allocated("A-LATE"),
            allocated("A-ONTIME"),
            allocated("A-NOV", due_on=date(2013, 11, 15)),
        )
        await wait_for_audit(service, "A-NOV")
        auditor = await service.token("M-AUD-1", "auditor")
        done = await service.http.post("/audits/A-ONTIME/submission", json=form(), headers=auditor)
        assert done.status_code == 201
        admin = await service.token("U-QA-1", "qa-admin")
        assert (await service.http.post("/overdue/sweep", json={"as_of": "2013-10-31"}, headers=admin)).json()[
            "flagged"
        ] == []
        sweeps = await asyncio.gather(*(
            service.http.post("/overdue/sweep", json={"as_of": "2013-11-01"}, headers=admin) for _ in range(3)
        ))
        assert sorted(audit_id for s in sweeps for audit_id in s.json()["flagged"]) == ["A-LATE"]
        listed = await service.http.get("/audits?overdue=true", headers=admin)
        assert [a["audit_id"] for a in listed.json()] == ["A-LATE"]

    # While stopped, ops sweep from the command line: nothing is flagged twice.
    settings = settings_for(database_url, kafka_settings)
    code = await asyncio.to_thread(
        service_main, lambda: definition(settings), ["sweep-overdue", "--as-of", "2013-11-05"], cli.extend
    )
    assert code == 0

    # Second life, on event time: an allocation of December moves the clock past A-NOV's due date.
    async with audits_service(database_url, kafka_settings, clock=None) as service:
        await produce(
            kafka_settings,
            allocated("A-DEC", due_on=date(2013, 12, 31), occurred_at=datetime(2013, 12, 2, 9, tzinfo=UTC)),
        )
        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval(
            "SELECT overdue_flagged_at IS NOT NULL FROM audits WHERE audit_id = 'A-NOV'"))
        events = await events_on_audits_topic(kafka_settings, expect=3)
        assert await outbox_counts(service) == {"audit-completed": 1, "audit-overdue": 2}
    overdue = [e for e in events if e.event_type == "audit-overdue"]
    assert sorted(e.payload.audit_id for e in overdue) == ["A-LATE", "A-NOV"]
    late = next(e for e in overdue if e.payload.audit_id == "A-LATE")
    assert late.occurred_at == datetime(2013, 11, 1, tzinfo=UTC) and late.payload.due_on == date(2013, 10, 31)


THEMED = {
    "id": "domestic-violence",
    "kind": "themed",
    "title": "Domestic violence themed audit",
    "review_window_months": 12,
    "domains": [
        {"id": "risk-assessment", "title": "Risk assessment", "themes": ["safeguarding-risk"]},
        {"id": "multi-agency", "title": "Multi-agency working", "themes": ["multi-agency-working"]},
    ],
    "questions": [
        {"id": "dv-marac-referral", "text": "Was a MARAC referral made where the risk called for one?",
         "theme": "multi-agency-working"},
        {"id": "dv-perpetrator-father-engaged", "text": "Was the father, if the perpetrator, engaged in the work?",
         "theme": "fathers"},
    ],
}


async def test_a_themed_template_is_loaded_allocated_by_case_list_and_moderated(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    # Ops may load a themed template from a file too.
    example = Path(__file__).resolve().parents[3] / "services/audits/examples/themed/pre-birth-referrals.yaml"
    settings = settings_for(database_url, kafka_settings, moderation_share=1.0)
    code = await asyncio.to_thread(service_main, lambda: definition(settings), ["load-template", str(example)],
                                   cli.extend)
    assert code == 0
    async with audits_service(database_url, kafka_settings, moderation_share=1.0) as service:
        admin = await service.token("U-QA-1", "qa-admin")
        listed = (await service.http.get("/templates", headers=admin)).json()
        assert {(t["template_id"], t["version"], t["source"]) for t in listed} == {
            ("light-touch", 1, "package"), ("pre-birth-referrals", 1, "api"),
        }
        auditor = await service.token("M-AUD-1", "auditor")
        assert (await service.http.post("/templates", json=THEMED, headers=auditor)).status_code == 403
        broken = await service.http.post("/templates", json=THEMED | {"questions": [{"id": "x", "text": "?",
                                                                                      "theme": "housing"}]},
                                         headers=admin)
        assert broken.status_code == 422 and broken.json()["detail"][0]["field"] == "questions[0].theme"
        loaded = await service.http.post("/templates", json=THEMED, headers=admin)
        assert loaded.status_code == 201 and loaded.json()["version"] == 1 and loaded.json()["created"]
        assert (await service.http.post("/templates", json=THEMED, headers=admin)).json()["created"] is False

        allocation = {
            "template_id": "domestic-violence", "lead_auditor_id": "M-LEAD-SS", "due_on": "2013-10-31",
            "allocated_at": "2013-10-01T09:00:00+00:00", "month": "2013-10",
            "cases": [
                {"case_id": "C-DV-1", "service": "safeguarding-and-support", "team_id": "T-SS-2",
                 "auditor_id": "M-AUD-1", "team_manager_id": "M-TM-7", "audit_id": "TA-DV-1"},
                {"case_id": "C-DV-2", "service": "first-response", "team_id": "T-FR-1", "auditor_id": "M-AUD-2"},
            ],
        }
        made = await service.http.post("/themed-audits", json=allocation, headers=admin)
        assert made.status_code == 201, made.text
        assert [a["created"] for a in made.json()["audits"]] == [True, True]
        assert [a["created"] for a in (await service.http.post("/themed-audits", json=allocation,
                                                                headers=admin)).json()["audits"]] == [False, False]

        submission = {
            "completed_at": "2013-10-15T10:00:00+00:00",
            "domains": [{"domain": "risk-assessment", "grade": "good"},
                        {"domain": "multi-agency", "grade": "requires-improvement"}],
            "answers": [{"question_id": "dv-marac-referral", "answer": "no"},
                        {"question_id": "dv-perpetrator-father-engaged", "answer": "not-applicable"}],
            "social_worker_participated": False, "parents_spoken_to": True, "child_spoken_to": True,
        }
        done = await service.http.post("/audits/TA-DV-1/submission", json=submission, headers=auditor)
        assert done.status_code == 201, done.text
        assert done.json()["moderation_sampled"] is True

        # A new version of the template leaves the completed audit as it was.
        v2 = THEMED | {"domains": [*THEMED["domains"], {"id": "voice", "title": "Voice of the child"}]}
        assert (await service.http.post("/templates", json=v2, headers=admin)).json()["version"] == 2
        view = (await service.http.get("/audits/TA-DV-1", headers=auditor)).json()
        assert view["template"]["version"] == 1 and len(view["template"]["domains"]) == 2
        assert view["completion"]["template_version"] == 1

        (event,) = await events_on_audits_topic(kafka_settings, expect=1)
        assert (event.payload.template_id, event.payload.template_version) == ("domestic-violence", 1)
        assert event.payload.month == "2013-10"

        # Moderation: independent of the auditor, once, then agreement per domain and per auditor.
        assert (await service.http.get("/moderation/queue", headers=auditor)).json() == []
        moderator = await service.token("M-LEAD-CIC", "lead-auditor")
        queue = (await service.http.get("/moderation/queue", headers=moderator)).json()
        assert [(q["audit_id"], q["domains"]) for q in queue] == [("TA-DV-1", ["risk-assessment", "multi-agency"])]
        regrade = {"grades": [{"domain": "risk-assessment", "grade": "good"},
                              {"domain": "multi-agency", "grade": "inadequate"}]}
        own = await service.http.post("/audits/TA-DV-1/moderation", json=regrade, headers=auditor)
        assert own.status_code == 403
        partial = await service.http.post("/audits/TA-DV-1/moderation", json={"grades": regrade["grades"][:1]},
                                          headers=moderator)
        assert partial.status_code == 422
        moderated = await service.http.post("/audits/TA-DV-1/moderation", json=regrade, headers=moderator)
        assert moderated.status_code == 201 and moderated.json()["agreed"] == 1
        assert (await service.http.post("/audits/TA-DV-1/moderation", json=regrade,
                                        headers=moderator)).status_code == 409
        report = (await service.http.get("/moderation/agreement?month=2013-10", headers=admin)).json()
        assert report["share"] == 1.0 and report["moderated_audits"] == 1
        assert report["by_domain"]["risk-assessment"]["agreement_rate"] == 1.0
        assert report["by_domain"]["multi-agency"]["agreement_rate"] == 0.0
        assert report["by_domain"]["multi-agency"]["moderator_harsher"] == 1
        assert report["by_auditor"]["M-AUD-1"]["agreed"] == 1 and report["by_auditor"]["M-AUD-1"]["compared"] == 2
