"""The monthly draw: a stratified random sample of open cases, allocated fairly to auditors.

`draw` is a pure function of (population, roster, settings, seed, month, as of, audit history):
the same inputs give the same allocations, whatever order they come in. Randomness comes from a
keyed hash of the seed and each id (not from a pseudo-random stream), so a recorded seed replays
the draw on any Python version.

Steps:
1. Population: cases open at some point in the `window_months` to the "as of" date; cases
   audited in the last `recent_audit_months` and cases of a service with no lead auditor are left
   out (the lead is recorded on every allocation).
2. Target: min(sample size, eligible cases, capacity of the auditors available all month).
3. Strata: one per service, sized in proportion to its open caseload (largest remainder), at least
   one case per service that has eligible cases, never more than it has.
4. Within a stratum, cases are taken in the order of hash(seed, case id).
5. Auditors: each case goes to an available auditor who neither holds it nor manages a team that
   does, with capacity left; the least loaded this month, then this year, then hash(seed, auditor).
   When every such auditor is full, work is moved along a chain to make room (augmenting path);
   a case no auditor may take is passed over and the next case of its stratum drawn instead.
6. Balance: work moves (along chains) from any auditor to one with at least two fewer, while the
   constraints allow, so loads differ by at most one unless capacity or conflicts forbid it.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import date

from qaf_shared.months import Month, add_months
from qaf_shared.vocabulary import Service

from qaf_allocation.domain.model import (
    Allocation,
    Auditor,
    Case,
    DrawResult,
    DrawSettings,
    InvalidInput,
    Shortfall,
    leads_by_service,
)

EXPLANATION_LIMIT = 500
MAX_SKIPS_LISTED = 20


def rank(seed: int, kind: str, ident: str) -> bytes:
    """The seeded random order of ids: a keyed hash, stable across platforms and versions."""
    return hashlib.blake2b(f"{kind}:{ident}".encode(), digest_size=8, key=str(seed).encode()[:64]).digest()


def stratify(weights: Mapping[Service, int], caps: Mapping[Service, int], n: int) -> dict[Service, int]:
    """Split `n` over the services in proportion to `weights`, each between 1 and its cap.

    Largest remainder; ties go to the service listed first in the vocabulary. With fewer cases to
    draw than services, the largest services get one each.
    """
    services = [s for s in Service if caps.get(s, 0) > 0]
    if n <= 0 or not services:
        return {}
    n = min(n, sum(caps[s] for s in services))
    if n < len(services):
        largest = sorted(services, key=lambda s: (-weights.get(s, 0), list(Service).index(s)))[:n]
        return {s: 1 for s in services if s in largest}
    fixed: dict[Service, int] = {}
    while True:
        free = [s for s in services if s not in fixed]
        if not free:
            break
        n_free = n - sum(fixed.values())
        total = sum(max(weights.get(s, 0), 1) for s in free)
        share = {s: n_free * max(weights.get(s, 0), 1) / total for s in free}
        over = [s for s in free if share[s] > caps[s]]
        if over:
            fixed.update({s: caps[s] for s in over})
            continue
        under = [s for s in free if share[s] < 1]
        if under:
            fixed.update({s: 1 for s in under})
            continue
        quotas = {s: int(share[s]) for s in free}
        left = n_free - sum(quotas.values())
        by_remainder = sorted(free, key=lambda s: (-(share[s] - quotas[s]), list(Service).index(s)))
        for s in by_remainder[:left]:
            quotas[s] += 1
        fixed.update(quotas)
        break
    return {s: fixed[s] for s in services if fixed.get(s, 0) > 0}


class _Matcher:
    """Cases to auditors under capacity and conflicts: augmenting paths, then balancing chains."""

    def __init__(self, auditors: list[Auditor], prior_load: Mapping[str, int], seed: int) -> None:
        self.auditors = auditors
        self.cap = [a.capacity for a in auditors]
        self.load = [0] * len(auditors)
        self.prior = [prior_load.get(a.auditor_id, 0) for a in auditors]
        self.tie = [rank(seed, "auditor", a.auditor_id) for a in auditors]
        self.holds: list[list[str]] = [[] for _ in auditors]
        self.holder: dict[str, int] = {}
        self.blocked: dict[str, frozenset[int]] = {}
        self._by_id = {a.auditor_id: i for i, a in enumerate(auditors)}
        self._by_team: dict[str, set[int]] = {}
        for i, a in enumerate(auditors):
            for team in a.manages_teams:
                self._by_team.setdefault(team, set()).add(i)
        self._failed: set[frozenset[int]] = set()

    def block(self, case: Case) -> frozenset[int]:
        out = set(self._by_team.get(case.team_id, ()))
        for person in (case.worker_id, case.team_manager_id):
            if person in self._by_id:
                out.add(self._by_id[person])
        return frozenset(out)

    def may(self, case_id: str) -> list[int]:
        blocked = self.blocked[case_id]
        return [i for i in range(len(self.auditors)) if i not in blocked]

    def _key(self, i: int) -> tuple[int, int, bytes]:
        return (self.load[i], self.prior[i], self.tie[i])

    def _give(self, case_id: str, i: int) -> None:
        old = self.holder.get(case_id)
        if old is not None:
            self.holds[old].remove(case_id)
            self.load[old] -= 1
        self.holder[case_id] = i
        self.holds[i].append(case_id)
        self.load[i] += 1

    def place(self, case: Case) -> str | None:
        """Give the case to an auditor; returns why not when no auditor may take it."""
        blocked = self.block(case)
        self.blocked[case.case_id] = blocked
        if len(blocked) >= len(self.auditors):
            del self.blocked[case.case_id]
            return "every available auditor holds it or manages a team holding it"
        if blocked in self._failed:  # Kuhn: a side that found no augmenting path never will
            del self.blocked[case.case_id]
            return "every auditor free to audit it has reached capacity"
        may = self.may(case.case_id)
        free = [i for i in may if self.load[i] < self.cap[i]]
        if free:
            self._give(case.case_id, min(free, key=self._key))
            return None
        # augmenting path: make room by moving held cases along a chain to an auditor with space
        parent: dict[int, tuple[int, str] | None] = {i: None for i in may}
        end = self._chain_to(parent, sorted(may, key=self._key), lambda v: self.load[v] < self.cap[v])
        if end is not None:
            self._give(case.case_id, self._shift_chain(parent, end))
            return None
        del self.blocked[case.case_id]
        self._failed.add(blocked)
        return "every auditor free to audit it has reached capacity"

    def _shift_chain(self, parent: dict[int, tuple[int, str] | None], v: int) -> int:
        """Move each case one step down the chain ending at `v`; returns the chain's root, left with space."""
        steps: list[tuple[str, int]] = []
        node = v
        while parent[node] is not None:
            x, held = parent[node]  # type: ignore[misc]
            steps.append((held, node))
            node = x
        root = node
        for held, to in steps:
            self._give(held, to)
        return root

    def balance(self) -> None:
        """Move work from any auditor to one with two fewer, along chains, until none can move."""
        while True:
            moved = False
            for u in sorted(range(len(self.auditors)), key=lambda i: (-self.load[i], self.tie[i])):
                if self.load[u] < 2:
                    break
                if self._move_from(u):
                    moved = True
                    break
            if not moved:
                return

    def _move_from(self, u: int) -> bool:
        parent: dict[int, tuple[int, str] | None] = {u: None}
        end = self._chain_to(parent, [u], lambda v: self.load[v] <= self.load[u] - 2 and self.load[v] < self.cap[v])
        if end is None:
            return False
        self._shift_chain(parent, end)
        return True

    def _chain_to(self, parent: dict[int, tuple[int, str] | None], start: list[int],
                  wanted: Callable[[int], bool]) -> int | None:
        """Breadth first from `start` along "holds a case that v may take" to the first `wanted` auditor,
        recording in `parent` how each was reached (for `_shift_chain`); None when there is none."""
        queue = deque(start)
        while queue:
            x = queue.popleft()
            for held in list(self.holds[x]):
                for v in sorted(self.may(held), key=self._key):
                    if v in parent:
                        continue
                    parent[v] = (x, held)
                    if wanted(v):
                        return v
                    queue.append(v)
        return None


def draw(
    population: Iterable[Case],
    roster: Iterable[Auditor],
    settings: DrawSettings,
    *,
    month: str,
    as_of: date,
    seed: int,
    recently_audited: frozenset[str] | set[str] = frozenset(),
    prior_load: Mapping[str, int] | None = None,
    audit_id_prefix: str | None = None,
) -> DrawResult:
    """Draw and allocate the month's audit sample. Pure and deterministic for the same inputs."""
    prior_load = prior_load or {}
    roster = sorted(roster, key=lambda a: a.auditor_id)
    prefix = audit_id_prefix or f"A-{month}"
    due_on = Month.parse(month).last_day()
    window_start = add_months(as_of, -settings.window_months)
    population = list(population)
    if len({c.case_id for c in population}) != len(population):
        raise InvalidInput("the population lists a case more than once", field="population")
    open_cases = [c for c in population if c.open_during(window_start, as_of)]
    open_by_service = Counter(c.service for c in open_cases)
    leads = leads_by_service(roster)
    shortfall: list[Shortfall] = []

    without_lead = 0
    for service in Service:
        count = open_by_service.get(service, 0)
        if count and service not in leads:
            without_lead += count
            shortfall.append(Shortfall(
                "no-lead", f"no lead auditor on the roster for {service.value}: its {count} open cases "
                "cannot be allocated", service=service, count=count))
    recent = sum(1 for c in open_cases if c.case_id in recently_audited)
    eligible = [c for c in open_cases if c.service in leads and c.case_id not in recently_audited]
    eligible_by_service = Counter(c.service for c in eligible)

    available: list[Auditor] = []
    unavailable = Counter()
    for auditor in roster:
        why = auditor.unavailable_because(as_of, due_on)
        if why is None:
            available.append(auditor)
        else:
            unavailable[why.split(" ")[0]] += 1
    capacity = sum(a.capacity for a in available)

    requested = settings.sample_size
    target = min(requested, len(eligible), capacity)
    if len(eligible) < requested:
        detail = f", {without_lead} in services without a lead auditor" if without_lead else ""
        shortfall.append(Shortfall(
            "population", f"only {len(eligible)} eligible cases: {len(open_cases)} open in the "
            f"{settings.window_months} months to {as_of}, {recent} of them audited in the last "
            f"{settings.recent_audit_months} months{detail}", count=requested - len(eligible)))
    if capacity < min(requested, len(eligible)):
        shortfall.append(Shortfall(
            "capacity", f"available auditors can take {capacity} audits: {len(available)} available "
            f"from {as_of} to {due_on}, {unavailable['absent']} absent, {unavailable['inactive']} inactive, "
            f"{unavailable['capacity']} with capacity 0", count=min(requested, len(eligible)) - capacity))

    weights = {s: open_by_service[s] for s in eligible_by_service}
    quotas = stratify(weights, eligible_by_service, target)

    strata: dict[Service, list[tuple[bytes, Case]]] = {}
    for case in eligible:
        strata.setdefault(case.service, []).append((rank(seed, "case", case.case_id), case))
    for service in strata:
        strata[service].sort(key=lambda pair: pair[0])

    matcher = _Matcher(available, prior_load, seed)
    placed: dict[Service, list[tuple[bytes, Case]]] = {s: [] for s in quotas}
    taken = {s: 0 for s in quotas}
    skipped: Counter[Service] = Counter()
    listed = 0
    pending = []
    for service, quota in quotas.items():
        pending.extend(strata[service][:quota])
        taken[service] = quota
    while pending:
        deficit: Counter[Service] = Counter()
        for key, case in sorted(pending, key=lambda pair: pair[0]):
            why = matcher.place(case)
            if why is None:
                placed[case.service].append((key, case))
                continue
            deficit[case.service] += 1
            skipped[case.service] += 1
            if listed < MAX_SKIPS_LISTED:
                listed += 1
                shortfall.append(Shortfall("case-passed-over", f"case {case.case_id} ({case.service.value}) "
                                           f"passed over: {why}; the next case of its stratum was drawn",
                                           service=case.service, case_id=case.case_id, count=1))
        pending = []
        for service, missing in deficit.items():
            start = taken[service]
            more = strata[service][start:start + missing]
            taken[service] = start + len(more)
            pending.extend(more)
            if len(more) < missing:
                shortfall.append(Shortfall(
                    "stratum-exhausted", f"{service.value}: {quotas[service] - len(placed[service]) - len(more)} "
                    f"of its {quotas[service]} cases could not be allocated: every eligible case was tried",
                    service=service, count=missing - len(more)))
    if listed < sum(skipped.values()):
        shortfall.append(Shortfall("case-passed-over", f"{sum(skipped.values()) - listed} more cases passed over "
                                   "for the same reasons", count=sum(skipped.values()) - listed))

    matcher.balance()

    chosen = sorted((pair for pairs in placed.values() for pair in pairs), key=lambda pair: pair[0])
    loads = [matcher.load[i] for i in range(len(available))] or [0]
    low, high = min(loads), max(loads)
    total_open = len(open_cases)
    stratum_position: dict[str, int] = {}
    for pairs in placed.values():
        for position, (_, case) in enumerate(sorted(pairs, key=lambda pair: pair[0]), start=1):
            stratum_position[case.case_id] = position
    allocations = []
    for position, (_, case) in enumerate(chosen, start=1):
        i = matcher.holder[case.case_id]
        auditor = available[i]
        lead = leads[case.service]
        quota = len(placed[case.service])
        explanation = (
            f"stratum {case.service.value}: {quota} of {len(chosen)} drawn in proportion to its "
            f"{open_by_service[case.service]} of {total_open} open cases; case {stratum_position[case.case_id]} "
            f"of {quota} in the stratum, draw position {position}. Auditor {auditor.auditor_id}: available to "
            f"{due_on}, {matcher.load[i]} of capacity {auditor.capacity} this month, {matcher.prior[i]} earlier "
            f"this year; {len(matcher.may(case.case_id))} of {len(available)} available auditors may audit it, "
            f"loads {low}-{high}; neither its worker nor its team manager, manages no team holding it "
            f"({case.team_id}). Lead auditor {lead.auditor_id} oversees {case.service.value}."
        )
        allocations.append(Allocation(
            audit_id=f"{prefix}-{position:03d}", case_id=case.case_id, service=case.service, team_id=case.team_id,
            team_manager_id=case.team_manager_id, worker_id=case.worker_id, auditor_id=auditor.auditor_id,
            lead_auditor_id=lead.auditor_id, month=month, due_on=due_on, draw_position=position,
            stratum_position=stratum_position[case.case_id], explanation=_clip(explanation),
        ))
    if len(allocations) < target:
        shortfall.append(Shortfall("unallocated", f"{target - len(allocations)} of the {target} cases the "
                                   "auditors had room for could not be allocated (see the cases passed over)",
                                   count=target - len(allocations)))
    return DrawResult(
        month=month, as_of=as_of, seed=seed, due_on=due_on, requested=requested, target=target,
        allocations=allocations, shortfall=shortfall, quotas={s: len(placed[s]) for s in placed},
        open_by_service={s: open_by_service[s] for s in Service if open_by_service.get(s)},
        eligible_by_service={s: eligible_by_service[s] for s in Service if eligible_by_service.get(s)},
        stats={"open": total_open, "eligible": len(eligible), "recently_audited": recent,
               "auditors_available": len(available), "capacity": capacity, "passed_over": sum(skipped.values())},
    )


def _clip(text: str) -> str:
    return text if len(text) <= EXPLANATION_LIMIT else text[: EXPLANATION_LIMIT - 1] + "…"
