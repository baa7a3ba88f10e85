"""In-memory stand-ins for the actions service's outbound adapters: the repository (what the use cases
call of it), the renderer and the mailer."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from qaf_shared.clock import Clock, EventClock
from qaf_shared.contracts import ThemeUpdated
from qaf_shared.vocabulary import MilestoneStatus
from qaf_actions.adapters.render import DigestView
from qaf_actions.app import packaged_plan_text
from qaf_actions.domain.drift import Figure, FigureKey, MilestoneHistory, Transition, spec_key
from qaf_actions.domain.plan import ActionPlan, load_plan
from qaf_actions.settings import ActionsSettings
from qaf_actions.usecases import Context

OPS = ("audits_allocated", "audits_completed", "audits_overdue", "escalations_open", "escalations_overdue",
       "escalations_resolved", "escalations_resolved_in_time", "complaints_open", "complaints_overdue",
       "complaints_resolved", "complaints_resolved_in_time", "concerns_last_quarter", "concerns_year_to_date")


class FakeRepository:
    def __init__(self) -> None:
        self.plans: dict[int, tuple[ActionPlan, str, str]] = {}  # version -> (plan, changed_by, summary)
        self.figures: dict[FigureKey, Figure] = {}
        self.milestones: list[dict[str, Any]] = []
        self.clock: tuple[datetime, datetime] | None = None
        self.findings: dict[tuple[str, str, str], str | None] = {}
        self.drift: list[dict[str, Any]] = []
        self.evaluated: date | None = None
        self.ledger: list[tuple[str, Any]] = []
        self.digests: list[dict[str, Any]] = []

    # the plan
    async def current_plan(self, seed_text: str) -> tuple[int, ActionPlan]:
        if not self.plans:
            self.plans[1] = (load_plan(seed_text), "seed-file", "loaded from the plan file")
        version = max(self.plans)
        return version, self.plans[version][0]

    async def lock_plan(self) -> None:
        pass

    async def add_plan_version(self, version: int, plan: ActionPlan, *, changed_by: str, summary: str) -> None:
        self.plans[version] = (plan, changed_by, summary)

    async def plan_history(self) -> list[dict[str, Any]]:
        return [{"version": v, "changed_by": by, "summary": why} for v, (_, by, why) in sorted(self.plans.items())]

    async def plan_at_version(self, version: int) -> ActionPlan | None:
        return self.plans[version][0] if version in self.plans else None

    # figures and milestones
    async def upsert_figures(self, figures: Sequence[tuple[ThemeUpdated, UUID, datetime]]) -> None:
        for p, _, _ in figures:
            self.figures[(*spec_key(p), p.window_months, p.period_end)] = Figure(p.count, p.denominator)

    async def load_figures(self, plan: ActionPlan) -> dict[FigureKey, Figure]:
        watched = {spec_key(s) for s in plan.figures_watched()}
        return {k: f for k, f in self.figures.items() if k[:5] in watched}

    async def figure_series(self, spec: Any, window: int, first: str, last: str) -> list[tuple[str, int, int]]:
        return sorted((k[6], f.count, f.denominator) for k, f in self.figures.items()
                      if k[:5] == spec_key(spec) and k[5] == window and first <= k[6] <= last)

    async def record_milestone(self, *, event_id: UUID, area_id: str, action_id: str, status: MilestoneStatus,
                               updated_by: str, updated_on: date, note: str | None, applied: bool) -> None:
        self.milestones.append({"event_id": event_id, "area_id": area_id, "action_id": action_id, "status": status,
                                "updated_by": updated_by, "updated_on": updated_on, "note": note, "applied": applied})

    async def load_milestones(self) -> MilestoneHistory:
        out: dict[str, list[tuple[date, MilestoneStatus]]] = defaultdict(list)
        for m in sorted((m for m in self.milestones if m["applied"]), key=lambda m: m["updated_on"]):
            out[m["action_id"]].append((m["updated_on"], m["status"]))
        return out

    async def milestone_log(self, area_id: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.milestones if area_id in (None, m["area_id"])]

    # the event clock
    async def advance_clock(self, occurred_at: datetime) -> None:
        first, latest = self.clock or (occurred_at, occurred_at)
        self.clock = (min(first, occurred_at), max(latest, occurred_at))

    async def first_event_time(self) -> datetime | None:
        return self.clock[0] if self.clock else None

    async def latest_event_time(self) -> datetime | None:
        return self.clock[1] if self.clock else None

    # drift state
    async def last_evaluated(self) -> date | None:
        return self.evaluated

    async def active_findings(self, *, lock: bool = False) -> dict[tuple[str, str, str], str | None]:
        return dict(self.findings)

    async def apply_transition(self, t: Transition, as_of: date, event_id: UUID) -> None:
        key = (t.area_id, t.kind.value, t.subject_id)
        if t.change == "flagged":
            self.findings[key] = t.indicator_id
        else:
            del self.findings[key]
        self.drift.append({"event_id": event_id, "change": t.change, "area_id": t.area_id, "kind": t.kind.value,
                           "subject_id": t.subject_id, "indicator_id": t.indicator_id, "status": t.status.value,
                           "as_of": as_of, "explanation": t.explanation, "figures": t.figures})

    async def mark_evaluated(self, as_of: date, plan_version: int) -> None:
        self.evaluated = as_of

    async def drift_events(self, after: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
        return [e for e in self.drift if (after is None or e["as_of"] > after) and (until is None or e["as_of"] <= until)]

    # the work ledger
    async def audit_allocated(self, p: Any, occurred_at: datetime) -> None:
        self.ledger.append(("audit-allocated", p.audit_id))

    async def ops_figures(self, as_of: date, year_start: date) -> dict[str, Any]:
        return dict.fromkeys(OPS, 0)

    # digests
    async def lock_digest_period(self, period: str) -> None:
        pass

    async def latest_digest(self, period: str | None = None, *, before_period: str | None = None) -> dict[str, Any] | None:
        rows = [d for d in self.digests if period in (None, d["period"])
                and (before_period is None or d["period"] < before_period)]
        return max(rows, key=lambda d: (d["period"], d["issued_at"])) if rows else None

    async def digests_issued(self, period: str) -> int:
        return sum(d["period"] == period for d in self.digests)

    async def insert_digest(self, **row: Any) -> None:
        self.digests.append(row | {"summary": json.dumps(row["summary"]), "sent_at": None})

    async def unsent_digest(self, digest_id: str) -> dict[str, Any] | None:
        return next((d for d in self.digests if d["digest_id"] == digest_id and d["sent_at"] is None
                     and d["recipients"]), None)

    async def mark_sent(self, digest_id: str) -> None:
        next(d for d in self.digests if d["digest_id"] == digest_id)["sent_at"] = datetime.now(UTC)

    async def unsent_digests(self) -> list[dict[str, Any]]:
        return [d for d in self.digests if d["sent_at"] is None and d["recipients"]]

    async def digest_list(self) -> list[dict[str, Any]]:
        return list(self.digests)

    async def digest_document(self, digest_id: str) -> dict[str, Any] | None:
        return next((d for d in self.digests if d["digest_id"] == digest_id), None)


class FakeRenderer:
    def __init__(self) -> None:
        self.views: list[DigestView] = []

    def html(self, view: DigestView) -> str:
        self.views.append(view)
        return f"<h1>{view.period}</h1>"

    def pdf(self, html: str) -> bytes:
        return b"%PDF-" + html.encode()

    def keep_copies(self, digest_id: str, html: str, pdf: bytes) -> None:
        pass


class FakeMailer:
    def __init__(self, recipients: list[str]) -> None:
        self.recipients = recipients
        self.sent: list[str] = []

    async def send_digest(self, *, digest_id: str, **_: Any) -> None:
        self.sent.append(digest_id)


def context(*, clock: Clock | None = None, recipients: list[str] | None = None) -> Context:
    """A context on event time (read from the fake repository), unless a clock is given."""
    def clock_for(repository: Any) -> Clock:
        return clock or EventClock(repository.latest_event_time)

    return Context(ActionsSettings(schedule_enabled=False), packaged_plan_text(), clock_for, FakeRenderer(),
                   FakeMailer(recipients or []), event_time=clock is None)
