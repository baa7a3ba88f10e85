"""Builders of cases and auditors for the allocation unit tests (plain values, no mocks)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation.domain.model import Absence, Auditor, Case

T0 = datetime(2013, 1, 1, tzinfo=UTC)
SERVICES = list(Service)


def case(case_id: str, service: Service = Service.FIRST_RESPONSE, *, team: str = "T-1", worker: str = "W-1",
         manager: str = "M-X", opened: date = date(2013, 1, 10), closed: date | None = None) -> Case:
    return Case(case_id, service, team, worker, manager, LegalStatus.CHILD_IN_NEED, opened, closed, T0, T0)


def auditor(auditor_id: str, service: Service = Service.FIRST_RESPONSE, *, teams: tuple[str, ...] = (),
            lead: bool = False, capacity: int = 5, absences: tuple[tuple[date, date], ...] = (),
            active: bool = True) -> Auditor:
    return Auditor(auditor_id, service, frozenset(teams), lead, capacity,
                   tuple(Absence(a, b) for a, b in absences), active)


def leads() -> list[Auditor]:
    """One lead auditor per service, with room for work."""
    return [auditor(f"L-{s.value}", s, lead=True, capacity=3) for s in SERVICES]


def population(sizes: dict[Service, int], *, teams_per_service: int = 4, workers: int = 50,
               seed: int = 0) -> list[Case]:
    rnd = random.Random(seed)
    out = []
    for service, size in sizes.items():
        for i in range(size):
            t = rnd.randrange(teams_per_service)
            out.append(case(f"C-{service.value}-{i}", service, team=f"T-{service.value}-{t}",
                            worker=f"W-{rnd.randrange(workers)}", manager=f"M-{service.value}-{t}"))
    return out


def team_managers(*, teams_per_service: int = 4, capacity: int = 3) -> list[Auditor]:
    """Auditors who each manage one team (and so hold that team's cases)."""
    return [auditor(f"M-{s.value}-{t}", s, teams=(f"T-{s.value}-{t}",), capacity=capacity)
            for s in SERVICES for t in range(teams_per_service)]
