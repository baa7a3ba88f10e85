"""The HTTP API on the real broker and database: roster, runs and redraws, reallocation, the target,
and bad input answered with a clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qaf_shared import topics
from qaf_shared.contracts import AuditCompleted, AuditReallocated, DomainGrade
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import Grade, Service
from tests.conftest import eventually
from tests.integration.allocation.support import case_events, population_count, put_roster, allocation_definition
from tests.support.kafka import produce, read_topic
from tests.support.services import running

pytestmark = pytest.mark.integration


async def test_roster_runs_redraws_reallocation_and_the_yearly_target(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with running(allocation_definition(database_url, kafka_settings)) as service:
        http = service.http
        admin = await service.token("U-QA-01", "qa-admin")
        reader = await service.token("T-PERF", "reporting")
        lead = await service.token("L-first-response", "lead-auditor")
        await put_roster(service, admin)
        opened = case_events()
        await produce(kafka_settings, *opened)

        # ---- the roster, and bad roster input
        assert (await http.put("/allocation/roster/X-1", json={"service": "first-response"},
                               headers=reader)).status_code == 403
        roster = await http.get("/allocation/roster", headers=lead)
        assert roster.status_code == 200 and len(roster.json()["auditors"]) == 30
        assert (await http.get("/allocation/roster/NOBODY", headers=lead)).status_code == 404
        unknown_service = await http.put("/allocation/roster/X-1", json={"service": "housing"}, headers=admin)
        assert unknown_service.status_code == 422 and unknown_service.json()["detail"][0]["loc"] == ["body", "service"]
        negative = await http.put("/allocation/roster/X-1", json={"service": "first-response", "capacity": -1},
                                  headers=admin)
        assert negative.status_code == 422 and negative.json()["detail"][0]["loc"] == ["body", "capacity"]
        backwards = await http.put("/allocation/roster/X-1", headers=admin, json={
            "service": "first-response", "absences": [{"starts_on": "2013-10-09", "ends_on": "2013-10-01"}]})
        assert backwards.status_code == 422 and "ends_on 2013-10-01 is before starts_on" in backwards.text
        second_lead = await http.put("/allocation/roster/X-1", json={"service": "first-response", "is_lead": True},
                                     headers=admin)
        assert second_lead.status_code == 409
        assert "first-response already has lead auditor L-first-response" in second_lead.json()["detail"]
        unknown_lead = await http.put("/allocation/leads/first-response", json={"auditor_id": "M-NOBODY"},
                                      headers=admin)
        assert unknown_lead.status_code == 422
        assert unknown_lead.json()["detail"][0] == {"loc": ["body", "auditor_id"], "type": "value_error",
                                                    "msg": "lead auditor M-NOBODY is not on the roster"}
        assert (await http.put("/allocation/leads/housing", json={"auditor_id": "L-first-response"},
                               headers=admin)).status_code == 422
        assert (await http.get("/allocation/roster", headers=lead)).json()["auditors"] == roster.json()["auditors"]

        await eventually(lambda: _known(service, reader, len(opened)), timeout=60)

        # ---- runs: bad "as of", once per month, replay by seed, redraw
        future = await http.post("/allocation/runs", json={"month": "2014-04", "as_of": "2014-04-01"}, headers=admin)
        assert future.status_code == 422
        assert future.json()["detail"][0]["msg"] == "as_of 2014-04-01 is in the future (today is 2014-03-31)"
        outside = await http.post("/allocation/runs", json={"month": "2013-10", "as_of": "2013-11-01"}, headers=admin)
        assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "as_of"]
        assert (await http.post("/allocation/runs", json={"month": "2013-10", "as_of": "2013-10-01"},
                                headers=reader)).status_code == 403
        assert (await http.get("/allocation/months/2013-10", headers=reader)).status_code == 404

        first = await http.post("/allocation/runs", json={"month": "2013-10", "as_of": "2013-10-01", "seed": 7},
                                headers=admin)
        assert first.status_code == 201, first.text
        drawn = first.json()
        assert drawn["draw_id"] == "D-2013-10" and drawn["allocated"] == 50 and drawn["seed"] == 7
        assert drawn["requested_by"] == "U-QA-01" and drawn["trigger"] == "api"
        again = await http.post("/allocation/runs", json={"month": "2013-10", "as_of": "2013-10-01"}, headers=admin)
        assert again.status_code == 200 and again.json()["draw_id"] == "D-2013-10"

        redraw = await http.post("/allocation/runs", headers=admin,
                                 json={"month": "2013-10", "as_of": "2013-10-01", "seed": 7, "redraw": True})
        assert redraw.status_code == 201
        redrawn = redraw.json()
        assert redrawn["draw_id"] == "D-2013-10-r1" and redrawn["redraw"] is True
        # the same population, roster, settings and seed give the same draw
        assert _pairs(redrawn) == _pairs(drawn)
        assert [h["draw_id"] for h in redrawn["history"]] == ["D-2013-10", "D-2013-10-r1"]
        assert redrawn["history"][0]["superseded_by"] == "D-2013-10-r1"

        # ---- an auditor's absence moves their open audits, under the same rules
        loads: dict[str, int] = {}
        for a in redrawn["allocations"]:
            loads[a["auditor_id"]] = loads.get(a["auditor_id"], 0) + 1
        away = max(sorted(loads), key=lambda k: loads[k])
        absent = await http.post(f"/allocation/roster/{away}/absences", headers=admin,
                                 json={"starts_on": "2013-10-14", "ends_on": "2013-11-08"})
        assert absent.status_code == 200, absent.text
        moved = absent.json()["reallocated"]
        assert len(moved) == loads[away] and absent.json()["not_reallocated"] == []
        month = (await http.get("/allocation/months/2013-10", headers=lead)).json()
        assert away not in {a["auditor_id"] for a in month["allocations"]}
        moved_ids = {m["audit_id"] for m in moved}
        for allocation in month["allocations"]:
            if allocation["audit_id"] in moved_ids:
                assert allocation["original_auditor_id"] == away
                assert allocation["reallocations"][0]["previous_auditor_id"] == away
        records = await read_topic(kafka_settings, topics.ALLOCATIONS.name, expect=100 + len(moved))
        reallocated = [e.payload for e in map(lambda r: decode(r.value), records)
                       if isinstance(e.payload, AuditReallocated)]
        assert {p.audit_id for p in reallocated} == moved_ids
        assert all(p.previous_auditor_id == away and p.auditor_id != away for p in reallocated)

        # ---- completions count toward the target, and a month with completed audits cannot be redrawn
        done = month["allocations"][0]
        completed = AuditCompleted(
            audit_id=done["audit_id"], case_id=done["case_id"], service=Service(done["service"]),
            team_id=done["team_id"], auditor_id=done["auditor_id"], month="2013-10", template_id="light-touch",
            template_version=1, grades=[DomainGrade(domain="planning", grade=Grade.GOOD)], overall_grade=Grade.GOOD,
            social_worker_participated=True, parents_spoken_to=True, child_spoken_to=False,
            completed_at=datetime(2013, 10, 20, 15, tzinfo=UTC))
        await produce(kafka_settings, new_envelope(completed, source="audits"))
        target = await eventually(lambda: _target(service, reader), timeout=30)
        assert target["year"] == "2013-14" and target["target"] == {"min": 450, "max": 500}
        assert target["allocated"] == 50 and target["months_drawn"] == 1 and target["status"] == "below"
        assert sum(s["allocated"] for s in target["by_service"]) == 50
        assert {s["service"]: s["completed"] for s in target["by_service"]}[done["service"]] == 1
        refused = await http.post("/allocation/runs", headers=admin,
                                  json={"month": "2013-10", "as_of": "2013-10-01", "redraw": True})
        assert refused.status_code == 409
        assert f"already completed ({done['audit_id']})" in refused.json()["detail"]

        # ---- leaving the roster moves what they hold too
        holder = next(a["auditor_id"] for a in month["allocations"][1:] if a["auditor_id"] != done["auditor_id"])
        gone = await http.delete(f"/allocation/roster/{holder}", params={"as_of": "2013-10-20"}, headers=admin)
        assert gone.status_code == 200 and gone.json()["auditor"]["active"] is False
        assert gone.json()["reallocated"]
        month = (await http.get("/allocation/months/2013-10", headers=lead)).json()
        assert holder not in {a["auditor_id"] for a in month["allocations"]}


def _pairs(view: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(a["case_id"], a["auditor_id"]) for a in view["allocations"]]


async def _known(service, headers, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await population_count(service, headers) == n


async def _target(service, headers):  # type: ignore[no-untyped-def]
    body = (await service.http.get("/allocation/target", params={"year": 2013}, headers=headers)).json()
    return body if body["completed"] == 1 else None
