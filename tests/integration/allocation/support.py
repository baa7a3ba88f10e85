"""Builders for the allocation integration tests: a roster, a case population, the service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from qaf_shared.clock import Clock, FixedClock
from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation.app import definition
from qaf_allocation.settings import AllocationSettings
from qaf_shared.runtime import ServiceDefinition

SIZES = {Service.FIRST_RESPONSE: 80, Service.SAFEGUARDING_AND_SUPPORT: 70, Service.CHILDREN_IN_CARE: 60,
         Service.DISABLED_CHILDREN: 30, Service.FOSTERING_AND_ADOPTION: 40, Service.SAFEGUARDING_AND_QA: 20}
TEAMS = 4
EVENT_TIME = datetime(2013, 6, 1, 9, tzinfo=UTC)


def allocation_definition(database_url: str, kafka: KafkaSettings, *, clock: Clock | None = None,
                          **overrides: Any) -> ServiceDefinition:
    settings = AllocationSettings(database_url=database_url, kafka=kafka, consumer_retry_backoff_s=0.2,
                                  **{"scheduler_enabled": False, **overrides})
    return definition(settings, clock=clock or FixedClock(date(2014, 3, 31)))


def roster_entries() -> dict[str, dict[str, Any]]:
    """A lead per service (capacity 3) and a manager per team (capacity 2): room for 66 audits."""
    entries: dict[str, dict[str, Any]] = {}
    for service in Service:
        entries[f"L-{service.value}"] = {"service": service.value, "is_lead": True, "capacity": 3}
        for t in range(TEAMS):
            entries[f"M-{service.value}-{t}"] = {"service": service.value, "manages_teams": [f"T-{service.value}-{t}"],
                                                 "capacity": 2}
    return entries


def case_events(sizes: dict[Service, int] = SIZES) -> list[Envelope[CaseOpened]]:
    out = []
    for service, size in sizes.items():
        for i in range(size):
            t = i % TEAMS
            out.append(new_envelope(CaseOpened(
                case_id=f"C-{service.value}-{i}", service=service, team_id=f"T-{service.value}-{t}",
                worker_id=f"W-{service.value}-{i % 7}", team_manager_id=f"M-{service.value}-{t}",
                legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1),
            ), source="case-system", occurred_at=EVENT_TIME + timedelta(seconds=i)))
    return out


async def put_roster(service: Any, headers: dict[str, str]) -> None:
    for auditor_id, body in roster_entries().items():
        response = await service.http.put(f"/allocation/roster/{auditor_id}", json=body, headers=headers)
        assert response.status_code == 201, response.text


async def population_count(service: Any, headers: dict[str, str], as_of: str = "2013-10-01") -> int:
    response = await service.http.get("/allocation/population", params={"as_of": as_of}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["cases_known"]
