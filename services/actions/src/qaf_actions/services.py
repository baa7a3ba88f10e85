"""Use cases of the actions service, each inside the caller's transaction: re-evaluate drift and emit
the changes through the outbox; record a milestone update; change the plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any

import asyncpg
import structlog

from qaf_shared.contracts.actions import ActionMilestoneUpdated, DriftCleared, DriftFlagged
from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.kafka import enqueue

from qaf_actions.adapters import repository
from qaf_actions.clock import Clock, EventClock, WallClock
from qaf_actions.domain.drift import Evaluation, evaluate, transitions
from qaf_actions.domain.plan import ActionPlan
from qaf_actions.domain.schedule import BoardSchedule
from qaf_actions.settings import ActionsSettings

log = structlog.get_logger(__name__)
SOURCE = "actions"


def packaged_plan_text() -> str:
    return resources.files("qaf_actions.plan").joinpath("action_plan.yaml").read_text(encoding="utf-8")


@dataclass
class Context:
    """What the handlers, routes and schedulers share: settings, the plan file's text, the clock."""

    settings: ActionsSettings
    seed_text: str
    clock: Clock

    @classmethod
    def from_settings(cls, settings: ActionsSettings, clock: Clock | None = None) -> Context:
        text = settings.plan_file.read_text(encoding="utf-8") if settings.plan_file else packaged_plan_text()
        if clock is None:
            clock = EventClock() if settings.clock == "event" else WallClock()
        return cls(settings, text, clock)

    @property
    def schedule(self) -> BoardSchedule:
        s = self.settings
        return BoardSchedule(s.board_weekday, s.board_week, s.digest_working_days_before, tuple(s.board_dates))

    def year_start(self, as_of: date) -> date:
        m = self.settings.year_start_month
        return date(as_of.year if as_of.month >= m else as_of.year - 1, m, 1)


def at_midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


async def plan_in_force(conn: asyncpg.Connection, ctx: Context) -> tuple[int, ActionPlan]:
    return await repository.current_plan(conn, ctx.seed_text)


async def evaluate_as_of(conn: asyncpg.Connection, ctx: Context, as_of: date) -> Evaluation:
    """A read-only evaluation (the API, the digest): deterministic for the date."""
    _, plan = await plan_in_force(conn, ctx)
    return evaluate(plan, await repository.load_figures(conn, plan), await repository.load_milestones(conn), as_of)


async def reevaluate(
    conn: asyncpg.Connection, ctx: Context, *, as_of: date | None = None, causation: Envelope[Any] | None = None
) -> Evaluation | None:
    """Evaluate as of the clock's date and emit drift-flagged / drift-cleared for what changed only.

    The drift state is locked for the transaction, so two evaluations never emit the same change; the
    date never goes backwards (a late event is evaluated at the date already reached).
    """
    as_of = as_of or await ctx.clock.today(conn)
    if as_of is None:
        return None
    active = await repository.active_findings(conn, lock=True)
    last = await repository.last_evaluated(conn)
    if last is not None and as_of < last:
        as_of = last
    version, plan = await plan_in_force(conn, ctx)
    evaluation = evaluate(plan, await repository.load_figures(conn, plan), await repository.load_milestones(conn), as_of)
    occurred_at = causation.occurred_at if causation is not None else at_midnight(as_of)
    for t in transitions(active, evaluation):
        payload: DriftFlagged | DriftCleared
        if t.change == "flagged":
            payload = DriftFlagged(
                area_id=t.area_id, indicator_id=t.indicator_id, kind=t.kind, status=t.status, as_of=as_of,
                explanation=t.explanation, figures=t.figures,
            )
        else:
            payload = DriftCleared(
                area_id=t.area_id, indicator_id=t.indicator_id, kind=t.kind, status=t.status, as_of=as_of,
                explanation=t.explanation,
            )
        envelope = new_envelope(payload, source=SOURCE, causation=causation, occurred_at=occurred_at)
        await repository.apply_transition(conn, t, as_of, envelope.event_id)
        await enqueue(conn, envelope)
        log.info("drift.changed", change=t.change, area_id=t.area_id, kind=t.kind.value, subject_id=t.subject_id,
                 as_of=as_of.isoformat())
    await repository.mark_evaluated(conn, as_of, version)
    return evaluation


async def report_milestone(
    conn: asyncpg.Connection, ctx: Context, *, area_id: str, action_id: str, status: Any, updated_by: str,
    updated_on: date, note: str | None,
) -> Envelope[ActionMilestoneUpdated]:
    """Record an owner's progress (the note stays in the database) and announce it on the topic."""
    payload = ActionMilestoneUpdated(
        area_id=area_id, action_id=action_id, status=status, updated_by=updated_by, updated_on=updated_on
    )
    envelope = new_envelope(payload, source=SOURCE, occurred_at=at_midnight(updated_on))
    await repository.record_milestone(
        conn, event_id=envelope.event_id, area_id=area_id, action_id=action_id, status=status,
        updated_by=updated_by, updated_on=updated_on, note=note, applied=False,
    )
    await enqueue(conn, envelope)
    return envelope
