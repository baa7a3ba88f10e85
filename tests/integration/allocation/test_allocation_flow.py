"""The allocation service on the real broker and database: case events in, a run, audit-allocated out."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from qaf_shared import topics
from qaf_shared.clock import FixedClock
from qaf_shared.contracts import AllocationRunRequested, AuditAllocated, CaseClosed, CaseUpdated
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.integration.allocation.support import (
    SIZES,
    allocation_definition,
    case_events,
    population_count,
    put_roster,
    roster_entries,
)
from tests.support.kafka import produce, read_topic
from tests.support.services import running

pytestmark = pytest.mark.integration


async def test_case_events_in_and_a_run_command_give_exactly_fifty_valid_audit_allocated_events(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with running(allocation_definition(database_url, kafka_settings)) as service:
        admin = await service.token("U-QA-01", "qa-admin")
        await put_roster(service, admin)
        opened = case_events()
        first = opened[0].payload
        # a transfer, then an older update arriving late (ignored), a duplicate, and a closure
        transfer = new_envelope(CaseUpdated(
            case_id=first.case_id, service=Service.CHILDREN_IN_CARE, team_id="T-children-in-care-0",
            worker_id="W-children-in-care-0", team_manager_id="M-children-in-care-0",
            legal_status=LegalStatus.LOOKED_AFTER), source="case-system", occurred_at=datetime(2013, 8, 1, tzinfo=UTC))
        stale = new_envelope(CaseUpdated(
            case_id=first.case_id, service=Service.DISABLED_CHILDREN, team_id="T-disabled-children-0",
            worker_id="W-x", team_manager_id="M-x", legal_status=LegalStatus.CHILD_IN_NEED),
            source="case-system", occurred_at=datetime(2013, 7, 1, tzinfo=UTC))
        old = new_envelope(first.model_copy(update={"case_id": "C-OLD", "opened_on": date(2012, 1, 1)}),
                           source="case-system", occurred_at=datetime(2012, 1, 1, tzinfo=UTC))
        closed = new_envelope(CaseClosed(case_id="C-OLD", closed_on=date(2013, 3, 1)),  # before the window
                              source="case-system", occurred_at=datetime(2013, 3, 1, tzinfo=UTC))
        unknown = new_envelope(CaseClosed(case_id="C-NEVER-OPENED", closed_on=date(2013, 9, 1)), source="case-system")
        await produce(kafka_settings, *opened, transfer, stale, transfer, old, closed, unknown)
        reader = await service.token("T-PERF", "reporting")
        await eventually(lambda: _known(service, reader, len(opened) + 1), timeout=60)

        dead = await read_topic(kafka_settings, topics.CASES.dlq, expect=1)
        assert [dict(r.headers)["x-dlq-reason"].decode() for r in dead] == [
            "case-closed for unknown case C-NEVER-OPENED: no case-opened has been received"]
        population = (await service.http.get("/allocation/population", params={"as_of": "2013-10-01"},
                                             headers=reader)).json()
        assert population["open_by_service"]["children-in-care"] == SIZES[Service.CHILDREN_IN_CARE] + 1
        assert population["open"] == len(opened)  # C-OLD closed before the six-month window

        command = new_envelope(AllocationRunRequested(month="2013-10", as_of=date(2013, 10, 1),
                                                      requested_by="U-QA-01"), source="qa-admin")
        await produce(kafka_settings, command)
        records = await read_topic(kafka_settings, topics.ALLOCATIONS.name, expect=50, timeout=60)
        events = [decode(r.value, expected_topic=topics.ALLOCATIONS.name) for r in records]
        assert len(events) == 50
        assert all(isinstance(e.payload, AuditAllocated) for e in events)
        assert len({e.payload.audit_id for e in events}) == 50
        assert all(r.key == e.payload.audit_id.encode() for r, e in zip(records, events, strict=True))
        assert all(e.causation_id == command.event_id for e in events)
        assert all(e.occurred_at == datetime(2013, 10, 1, tzinfo=UTC) for e in events)
        entries = roster_entries()
        cases = {e.payload.case_id: e.payload for e in opened}
        for event in events:
            p = event.payload
            assert p.month == "2013-10" and p.due_on == date(2013, 10, 31) and p.draw_id == "D-2013-10"
            assert p.lead_auditor_id == f"L-{p.service.value}"
            assert p.team_manager_id is not None and p.team_manager_id != p.auditor_id
            assert p.team_id not in entries[p.auditor_id].get("manages_teams", [])
            assert p.case_id != closed.payload.case_id
            if p.case_id == first.case_id:
                assert p.service == Service.CHILDREN_IN_CARE  # the transfer won, the late update did not
            else:
                assert p.team_manager_id == cases[p.case_id].team_manager_id
            assert "draw position" in p.explanation and p.auditor_id in p.explanation
        by_service = {s: sum(1 for e in events if e.payload.service == s) for s in Service}
        assert all(n >= 1 for n in by_service.values())
        assert sum(by_service.values()) == 50

        month = await service.http.get("/allocation/months/2013-10", headers=reader)
        assert month.status_code == 200
        body = month.json()
        assert body["allocated"] == 50 and body["trigger"] == "command" and body["shortfall"] == []
        assert body["seed"] == command.event_id.int & (2**63 - 1)
        assert [a["audit_id"] for a in body["allocations"]] == sorted(e.payload.audit_id for e in events)


async def _known(service, headers, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await population_count(service, headers) == n


async def test_a_scheduled_run_draws_on_the_first_working_day_only(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    today = FixedClock(date(2013, 11, 30))  # a Saturday: November's first working day has passed, so it is caught up
    definition = allocation_definition(database_url, kafka_settings, clock=today,
                                       scheduler_enabled=True, scheduler_interval_s=0.2)
    async with running(definition) as service:
        admin = await service.token("U-QA-01", "qa-admin")
        november = await eventually(lambda: _month(service, admin, "2013-11"), timeout=30)
        assert november["trigger"] == "scheduler" and november["as_of"] == "2013-11-01"
        assert november["allocated"] == 0
        assert [s["code"] for s in november["shortfall"]] == ["population"]
        today.set(date(2013, 12, 1))  # Sunday: December is not due yet
        await asyncio.sleep(1.0)
        assert (await service.http.get("/allocation/months/2013-12", headers=admin)).status_code == 404
        today.set(date(2013, 12, 2))
        december = await eventually(lambda: _month(service, admin, "2013-12"), timeout=30)
        assert december["as_of"] == "2013-12-02" and december["requested_by"] == "scheduler"


async def _month(service, headers, month: str):  # type: ignore[no-untyped-def]
    response = await service.http.get(f"/allocation/months/{month}", headers=headers)
    return response.json() if response.status_code == 200 else None
