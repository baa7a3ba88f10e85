"""Builders of cases and auditors for the allocation unit tests (plain values, no mocks), and an in-memory
repository for the use cases."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation.domain.model import Absence, Allocation, Auditor, Case, DrawResult
from qaf_allocation.domain.reallocation import HeldAudit, Move

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


# ------------------------------------------------------------------ an in-memory repository for the use cases


@dataclass
class StoredDraw:
    draw_id: str
    seq: int
    result: DrawResult
    requested_by: str
    trigger: str
    superseded_by: str | None = None


@dataclass
class HeldAllocation:
    allocation: Allocation
    draw_id: str
    auditor_id: str
    lead_auditor_id: str
    withdrawn: bool = False


@dataclass
class Completion:
    case_id: str
    service: str
    auditor_id: str
    month: str
    completed_at: datetime


class FakeRepository:
    """What the use cases ask of `Repository`, over dictionaries (locks are no-ops: one caller at a time)."""

    def __init__(self, cases: Iterable[Case] = (), roster: Iterable[Auditor] = ()) -> None:
        self.cases: dict[str, Case] = {c.case_id: c for c in cases}
        self.auditors: dict[str, Auditor] = {a.auditor_id: a for a in roster}
        self.draws: dict[str, StoredDraw] = {}
        self.allocations: dict[str, HeldAllocation] = {}
        self.completions: dict[str, Completion] = {}
        self.moves: list[tuple[Move, date]] = []

    # cases
    async def get_case(self, case_id: str, *, for_update: bool = False) -> Case | None:
        return self.cases.get(case_id)

    async def save_case(self, case: Case) -> None:
        self.cases[case.case_id] = case

    async def open_population(self, window_start: date, as_of: date) -> list[Case]:
        return [c for c in self.cases.values() if c.open_during(window_start, as_of)]

    async def open_counts(self, window_start: date, as_of: date) -> dict[str, int]:
        return dict(Counter(c.service.value for c in await self.open_population(window_start, as_of)))

    async def case_count(self) -> int:
        return len(self.cases)

    # roster
    async def lock_roster(self) -> None:
        pass

    async def roster(self) -> list[Auditor]:
        return [self.auditors[k] for k in sorted(self.auditors)]

    async def save_auditor(self, auditor: Auditor) -> bool:
        created = auditor.auditor_id not in self.auditors
        self.auditors[auditor.auditor_id] = auditor
        return created

    async def make_lead(self, service: Service, auditor_id: str) -> None:
        for a in list(self.auditors.values()):
            if a.service == service and a.is_lead != (a.auditor_id == auditor_id):
                self.auditors[a.auditor_id] = replace(a, is_lead=a.auditor_id == auditor_id)

    # draws
    async def lock_month(self, month: str) -> None:
        pass

    async def current_draw_id(self, month: str) -> str | None:
        return next((d.draw_id for d in self.draws.values()
                     if d.result.month == month and d.superseded_by is None), None)

    async def drawn_months(self) -> set[str]:
        return {d.result.month for d in self.draws.values()}

    async def next_seq(self, month: str) -> int:
        return sum(1 for d in self.draws.values() if d.result.month == month)

    async def completed_in_draw(self, draw_id: str) -> list[str]:
        return sorted(k for k, h in self.allocations.items() if h.draw_id == draw_id and k in self.completions)

    async def recently_audited(self, first_month: str, last_month: str, completed_since: date,
                               as_of: date) -> set[str]:
        allocated = {h.allocation.case_id for h in self._live() if first_month <= h.allocation.month <= last_month}
        completed = {c.case_id for c in self.completions.values()
                     if completed_since < c.completed_at.date() <= as_of}
        return allocated | completed

    async def loads_by_auditor(self, first_month: str, last_month: str) -> dict[str, int]:
        return dict(Counter(h.auditor_id for h in self._live() if first_month <= h.allocation.month <= last_month))

    async def supersede(self, draw_id: str, by: str) -> None:
        self.draws[draw_id].superseded_by = by
        for h in self.allocations.values():
            if h.draw_id == draw_id:
                h.withdrawn = True

    async def insert_draw(self, draw_id: str, seq: int, result: DrawResult, *, settings: dict[str, int],
                          requested_by: str, trigger: str) -> None:
        self.draws[draw_id] = StoredDraw(draw_id, seq, result, requested_by, trigger)
        for a in result.allocations:
            self.allocations[a.audit_id] = HeldAllocation(a, draw_id, a.auditor_id, a.lead_auditor_id)

    # reallocation
    async def held_audits(self, auditor_id: str, due_from: date) -> list[HeldAudit]:
        return [HeldAudit(k, self.cases[h.allocation.case_id], h.allocation.month, h.allocation.due_on,
                          h.auditor_id, h.lead_auditor_id)
                for k, h in sorted(self.allocations.items())
                if h.auditor_id == auditor_id and not h.withdrawn and h.allocation.due_on >= due_from
                and k not in self.completions]

    async def month_loads(self, months: set[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for h in self._live():
            if h.allocation.month in months:
                out.setdefault(h.allocation.month, {}).setdefault(h.auditor_id, 0)
                out[h.allocation.month][h.auditor_id] += 1
        return out

    async def record_move(self, move: Move, effective_on: date) -> None:
        held = self.allocations[move.audit_id]
        held.auditor_id, held.lead_auditor_id = move.auditor_id, move.lead_auditor_id
        self.moves.append((move, effective_on))

    async def reallocation_count(self, audit_id: str) -> int:
        return sum(1 for move, _ in self.moves if move.audit_id == audit_id)

    # completions and the target
    async def record_completion(self, *, audit_id: str, case_id: str, service: str, auditor_id: str, month: str,
                                completed_at: datetime) -> None:
        self.completions[audit_id] = Completion(case_id, service, auditor_id, month, completed_at)

    async def year_counts(self, first_month: str, last_month: str
                          ) -> tuple[Counter[Service], Counter[Service], int]:
        allocated = Counter(h.allocation.service for h in self._live()
                            if first_month <= h.allocation.month <= last_month)
        completed = Counter(Service(c.service) for c in self.completions.values()
                            if first_month <= c.month <= last_month)
        months = len({d.result.month for d in self.draws.values() if first_month <= d.result.month <= last_month})
        return allocated, completed, months

    def _live(self) -> list[HeldAllocation]:
        return [h for h in self.allocations.values() if not h.withdrawn]
