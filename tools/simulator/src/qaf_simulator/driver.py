"""Plays a plan against the running platform, through its public interfaces only.

Case systems post case events to allocation's intake (`POST /intake/events`, one `case-system`
token per service); the QA admin keeps the roster, draws each month (`POST /allocation/runs` with
`as_of` and the plan's seed) and sweeps overdue work as of simulated dates; auditors submit their
audits with their own tokens; CPAs, IROs and the complaints desk work their cases; action owners
report milestones; the QA admin finally asks for the Board digest as of the end of the year.

Between steps that depend on another service having read the events (a draw needs the month's
cases and completions; a submission needs the allocation), the driver waits: for exact counters
over HTTP where a service exposes them, and for the consumer groups to have read their topics to
the end (Kafka's consumer-group offsets, as an operator would watch lag).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from qaf_simulator.generator import (
    QA_ADMIN,
    AllocatedAudit,
    CaseEvent,
    MonthPlan,
    Plan,
    Step,
    audit_outcome,
)

# The consumer groups of the platform and the topics each reads (services' READMEs)
GROUP_TOPICS: dict[str, tuple[str, ...]] = {
    "qaf-allocation": ("qaf.cases", "qaf.allocation-commands", "qaf.audits"),
    "qaf-audits": ("qaf.allocations",),
    "qaf-escalations": ("qaf.cases",),
    "qaf-reporting": ("qaf.audits", "qaf.allocations", "qaf.escalations", "qaf.complaints", "qaf.cases"),
    "qaf-actions": ("qaf.themes", "qaf.actions"),
    "qaf-actions.digest": ("qaf.audits", "qaf.escalations", "qaf.complaints", "qaf.allocations"),
}
CONCURRENCY = 8


class SimulationError(RuntimeError):
    pass


Tokens = dict[tuple[str, str, str], str]  # (service, role, principal) -> bearer token
Progress = Callable[[str, int], None]  # (what is happening, units done since the last call)


@dataclass
class Lag:
    """Waits until consumer groups have read their topics to the end (offsets committed = end offsets)."""

    bootstrap: str
    prefix: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    _admin: Any = None
    _consumer: Any = None
    _partitions: dict[str, list[int]] | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.options)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **self.options)
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def lag(self, groups: Iterable[str]) -> tuple[int, dict[Any, int]]:
        from aiokafka import TopicPartition

        groups = list(groups)
        topics = {self.prefix + t for g in groups for t in GROUP_TOPICS[g]}
        if self._partitions is None or set(self._partitions) != topics:
            described = await self._admin.describe_topics(sorted(topics))
            self._partitions = {d["topic"]: sorted(p["partition"] for p in d["partitions"]) for d in described}
            missing = topics - {t for t, ps in self._partitions.items() if ps}
            if missing:  # just created: the broker's metadata has not caught up yet
                self._partitions = None
                return 1, {}
        partitions = [TopicPartition(t, p) for t in sorted(topics) for p in self._partitions[t]]
        ends = await self._consumer.end_offsets(partitions)
        total = 0
        for group in groups:
            committed = await self._admin.list_consumer_group_offsets(self.prefix + group)
            for tp in partitions:
                if tp.topic[len(self.prefix):] not in GROUP_TOPICS[group]:
                    continue
                done = committed.get(tp)
                total += max(0, ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0))
        return total, ends

    async def settle(self, groups: Iterable[str] = tuple(GROUP_TOPICS), *, quiet_s: float = 0.6,
                     timeout_s: float = 300.0) -> None:
        """Lag zero and no new messages for `quiet_s` (outbox relays and flushers have had their turn)."""
        groups = tuple(groups)
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        last_ends: dict[Any, int] | None = None
        while True:
            lag, ends = await self.lag(groups)
            now = time.monotonic()
            if lag == 0 and ends == last_ends:
                quiet_since = quiet_since or now
                if now - quiet_since >= quiet_s:
                    return
            else:
                quiet_since = now if lag == 0 else None
            last_ends = ends
            if now > deadline:
                raise SimulationError(f"consumer groups {', '.join(groups)} still {lag} messages behind after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)


@dataclass
class Outcome:
    """What the run did, for the summary and the tests."""

    allocations: dict[str, list[str]] = field(default_factory=dict)  # month -> audit ids drawn
    completed: int = 0
    completions: dict[str, date] = field(default_factory=dict)  # audit id -> completion date
    late: int = 0
    never: int = 0
    case_events: int = 0
    steps: int = 0
    refused: list[str] = field(default_factory=list)
    digest: dict[str, Any] | None = None
    digest_pdf: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Driver:
    def __init__(self, plan: Plan, clients: dict[str, httpx.AsyncClient], tokens: Tokens, lag: Lag,
                 progress: Progress | None = None) -> None:
        self.plan = plan
        self.clients = clients
        self.tokens = tokens
        self.lag = lag
        self.progress = progress or (lambda what, n: None)
        self.outcome = Outcome()
        self._cases_posted: set[str] = set()
        self._pending_late: list[tuple[AllocatedAudit, Any]] = []

    # ------------------------------------------------------------------ plumbing

    def _auth(self, service: str, role: str, principal: str) -> dict[str, str]:
        try:
            return {"Authorization": f"Bearer {self.tokens[(service, role, principal)]}"}
        except KeyError:
            raise SimulationError(f"no token for {principal} ({role}) on {service}") from None

    async def call(self, service: str, method: str, path: str, actor: tuple[str, str], *,
                   json: Any = None, params: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201, 202)
                   ) -> httpx.Response:
        headers = self._auth(service, *actor)
        for attempt in range(5):
            response = await self.clients[service].request(method, path, json=json, params=params, headers=headers)
            if response.status_code in ok:
                return response
            if response.status_code in (502, 503, 504) and attempt < 4:
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            raise SimulationError(f"{method} {service}{path} as {actor[1]}: {response.status_code} {response.text[:500]}")
        raise AssertionError("unreachable")

    def admin(self) -> tuple[str, str]:
        return ("qa-admin", QA_ADMIN)

    # ------------------------------------------------------------------ steps

    async def post_case_events(self, events: Iterable[CaseEvent]) -> None:
        """Each case system posts its own events; phases keep a case's events in order across systems."""
        events = list(events)
        for phase in ("case-opened", "case-updated", "case-closed"):
            by_service: dict[str, list[CaseEvent]] = defaultdict(list)
            for event in events:
                if event.event_type == phase:
                    by_service[event.service].append(event)
            for service, batch in sorted(by_service.items()):
                for i in range(0, len(batch), 1000):
                    chunk = batch[i:i + 1000]
                    await self.call("allocation", "POST", "/intake/events", ("case-system", service),
                                    json=[e.envelope() for e in chunk])
                    self._cases_posted.update(e.payload["case_id"] for e in chunk)
                    self.outcome.case_events += len(chunk)
                    self.progress("case systems publish", len(chunk))

    async def put_roster(self) -> None:
        for auditor in self.plan.roster:
            await self.call("allocation", "PUT", f"/allocation/roster/{auditor.auditor_id}", self.admin(),
                            json=auditor.body(), params={"as_of": self.plan.start.isoformat()})
        self.progress("roster", len(self.plan.roster))

    async def run_steps(self, steps: Iterable[Step]) -> None:
        """Steps of one entity in order; entities side by side (at most CONCURRENCY calls at once)."""
        chains: dict[str, list[Step]] = defaultdict(list)
        for step in steps:
            chains[step.entity].append(step)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def chain(items: list[Step]) -> None:
            async with gate:
                for step in items:
                    await self.call(step.service, step.method, step.path, step.actor, json=step.body)
                    self.outcome.steps += 1
                    self.progress("staff at work", 1)

        await _gather(chain(items) for _, items in sorted(chains.items()))

    async def submit(self, items: list[tuple[AllocatedAudit, Any]]) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(audit: AllocatedAudit, outcome: Any) -> None:
            role = "lead-auditor" if outcome.submitted_by == audit.lead_auditor_id or self._is_lead(outcome.submitted_by) \
                else "auditor"
            async with gate:
                await self.call("audits", "POST", f"/audits/{audit.audit_id}/submission", (role, outcome.submitted_by),
                                json=outcome.body, ok=(201,))
            self.outcome.completed += 1
            self.outcome.completions[audit.audit_id] = outcome.completed_on
            self.outcome.late += outcome.late
            self.progress("auditors submit", 1)

        await _gather(one(a, o) for a, o in items)

    def _is_lead(self, auditor_id: str) -> bool:
        return any(a.auditor_id == auditor_id and a.is_lead for a in self.plan.roster)

    async def sweep(self, as_of: date) -> None:
        await self.call("audits", "POST", "/overdue/sweep", self.admin(), json={"as_of": as_of.isoformat()})
        await self.call("escalations", "POST", "/escalations/overdue-sweep", self.admin(), json={"as_of": as_of.isoformat()})

    async def allocation_caught_up(self) -> None:
        """The draw must see every case event and every completion so far (the same draw for the same seed)."""
        deadline = time.monotonic() + 300
        year = self.plan.start.year if self.plan.start.month >= 4 else self.plan.start.year - 1
        while True:
            population = (await self.call("allocation", "GET", "/allocation/population", self.admin(),
                                          params={"as_of": self.plan.end_as_of.isoformat()})).json()
            target = (await self.call("allocation", "GET", "/allocation/target", self.admin(),
                                      params={"year": year})).json()
            completed = _completed(target)
            if population["cases_known"] >= len(self._cases_posted) and completed >= self.outcome.completed:
                break
            if time.monotonic() > deadline:
                raise SimulationError(f"allocation has not caught up: {population['cases_known']} cases of "
                                      f"{len(self._cases_posted)}, {completed} completions of {self.outcome.completed}")
            await asyncio.sleep(0.2)
        await self.lag.settle(["qaf-allocation"], quiet_s=0.3)

    async def draw(self, month: MonthPlan) -> list[AllocatedAudit]:
        view = (await self.call("allocation", "POST", "/allocation/runs", self.admin(), json={
            "month": month.month, "as_of": month.as_of.isoformat(), "seed": month.draw_seed})).json()
        audits = [
            AllocatedAudit(a["audit_id"], a["service"], a["auditor_id"], a["lead_auditor_id"], month.as_of,
                           date.fromisoformat(a["due_on"]))
            for a in view["allocations"] if not a.get("withdrawn")
        ]
        self.outcome.allocations[month.month] = sorted(a.audit_id for a in audits)
        self.progress("monthly draw", 1)
        # auditors can submit once audits has the allocations
        deadline = time.monotonic() + 300
        while True:
            listed = (await self.call("audits", "GET", "/audits", self.admin(), params={"month": month.month})).json()
            rows = listed if isinstance(listed, list) else listed.get("audits", [])
            if len(rows) >= len(audits):
                break
            if time.monotonic() > deadline:
                raise SimulationError(f"audits has {len(rows)} of the {len(audits)} audits drawn for {month.month}")
            await asyncio.sleep(0.2)
        return audits

    # ------------------------------------------------------------------ the run

    async def run(self, output: Path | None = None) -> Outcome:
        started = time.monotonic()
        plan = self.plan
        await self.put_roster()
        await self.post_case_events(plan.opening_cases)
        for month in plan.months:
            t0 = time.monotonic()
            await self.allocation_caught_up()
            await self.sweep(month.as_of)
            audits = await self.draw(month)
            on_time, late = [], []
            for audit in audits:
                outcome = audit_outcome(plan.seed, audit)
                if outcome is None:
                    self.outcome.never += 1
                elif outcome.late:
                    late.append((audit, outcome))
                else:
                    on_time.append((audit, outcome))
            # last month's late audits come in (after its overdue sweep), this month's on time
            await asyncio.gather(self.submit(self._pending_late + on_time), self.run_steps(month.steps))
            self._pending_late = late
            await self.post_case_events(month.case_events)
            self.outcome.timings[month.month] = time.monotonic() - t0
        # the year closes: late audits of the last month, final sweeps, then the Board digest
        await self.submit(self._pending_late)
        await self.sweep(plan.end_as_of)
        self.progress("waiting for reporting and actions", 0)
        await self.lag.settle(quiet_s=1.5)
        self.outcome.digest = (await self.call("actions", "POST", "/actions/digests", self.admin(), json={
            "as_of": plan.digest_as_of.isoformat(), "period": plan.digest_period, "send": False})).json()
        self.progress("Board digest", 1)
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            pdf = await self.call("actions", "GET", f"/actions/digests/{self.outcome.digest['digest_id']}.pdf",
                                  self.admin())
            path = output / f"board-digest-{plan.digest_period}.pdf"
            path.write_bytes(pdf.content)
            self.outcome.digest_pdf = path
        self.outcome.timings["total"] = time.monotonic() - started
        return self.outcome


def _completed(target: dict[str, Any]) -> int:
    for key in ("completed", "completions"):
        value = target.get(key)
        if isinstance(value, int):
            return value
        if isinstance(value, dict) and isinstance(value.get("total"), int):
            return value["total"]
    raise SimulationError(f"no completion count in allocation's target view: {sorted(target)}")


async def _gather(coroutines: Iterable[Awaitable[None]]) -> None:
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def units(plan: Plan) -> int:
    """Roughly how many progress units a run has (for the progress bar's total)."""
    allocations = 50 * len(plan.months)
    return (len(plan.roster) + plan.stats["case_events"] + plan.stats["steps"] + len(plan.months)
            + int(allocations * 0.95) + 1)
