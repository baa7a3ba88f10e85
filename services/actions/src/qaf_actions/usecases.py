"""The use cases of the actions service, each over a unit of work: read and change the plan, record
milestone progress, apply theme figures and the work ledger from the topics, re-evaluate drift and
announce what changed, and issue and send the Board's digest."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from qaf_shared.calendar import local_date
from qaf_shared.clock import Clock, WallClock
from qaf_shared.contracts.actions import ActionMilestoneUpdated, BoardDigestIssued, DriftCleared, DriftFlagged
from qaf_shared.contracts.reporting import ThemeUpdated
from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.errors import Conflict, FieldError, Invalid, NotFound
from qaf_shared.months import Month
from qaf_shared.unit_of_work import UnitOfWork
from qaf_shared.vocabulary import AreaStatus, MilestoneStatus

from qaf_actions.adapters.render import ChartSeries, DigestView
from qaf_actions.adapters.repository import Repository
from qaf_actions.domain.drift import Evaluation, evaluate, last_complete_month, shift_month, transitions, watches
from qaf_actions.domain.plan import ActionPlan, Area, Indicator
from qaf_actions.domain.schedule import BoardSchedule
from qaf_actions.settings import ActionsSettings

log = structlog.get_logger(__name__)
SOURCE = "actions"
MAX_CHARTS = 8
UoW = UnitOfWork[Repository]  # the unit of work every use case takes
M = TypeVar("M", bound=BaseModel)


class UnknownArea(NotFound):
    pass


class UnknownAction(NotFound):
    pass


class UnknownPlanVersion(NotFound):
    pass


class UnknownDigest(NotFound):
    pass


class StalePlan(Conflict):
    pass


class Renderer(Protocol):
    def html(self, view: DigestView) -> str: ...

    def pdf(self, html: str) -> bytes: ...

    def keep_copies(self, digest_id: str, html: str, pdf: bytes) -> None: ...


class Mailer(Protocol):
    @property
    def recipients(self) -> list[str]: ...

    async def send_digest(self, *, digest_id: str, period: str, board_date: date, as_of: date, html: str, pdf: bytes,
                          summary: dict[str, Any]) -> None: ...


@dataclass
class Context:
    """What the use cases need besides a unit of work: settings, the plan file's text, the clock (read
    through the repository when it is event time), and the digest's renderer and mailer."""

    settings: ActionsSettings
    seed_text: str
    clock_for: Callable[[Repository], Clock]
    renderer: Renderer
    mailer: Mailer
    event_time: bool = False
    first_seen: date | None = None  # the first date the schedule saw (the observed period starts there)

    @property
    def schedule(self) -> BoardSchedule:
        s = self.settings
        return BoardSchedule(s.board_weekday, s.board_week, s.digest_working_days_before, tuple(s.board_dates))

    def year_start(self, as_of: date) -> date:
        m = self.settings.year_start_month
        return date(as_of.year if as_of.month >= m else as_of.year - 1, m, 1)


def at_midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


async def _evaluation(repo: Repository, ctx: Context, as_of: date) -> tuple[int, ActionPlan, Evaluation]:
    version, plan = await repo.current_plan(ctx.seed_text)
    return version, plan, evaluate(plan, await repo.load_figures(plan), await repo.load_milestones(), as_of)


def _require_action(plan: ActionPlan, area_id: str, action_id: str) -> None:
    area = plan.area(area_id)
    if area is None:
        raise UnknownArea(f"no area {area_id!r} in the plan")
    if area.action(action_id) is None:
        raise UnknownAction(f"no action {action_id!r} in area {area_id!r}")


def _parsed(model: type[M], raw: dict[str, Any], field: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid([FieldError(field + "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                                                  for part in err["loc"]), err["msg"])
                       for err in exc.errors(include_url=False)]) from None


# -- drift ----------------------------------------------------------------------------------------------


async def reevaluate(uow: UoW, ctx: Context, *, as_of: date | None = None,
                     causation: Envelope[Any] | None = None) -> Evaluation | None:
    """Inside an open unit of work: evaluate as of the clock's date and emit drift-flagged / drift-cleared
    for what changed only.

    The drift state is locked for the transaction, so two evaluations never emit the same change; the
    date never goes backwards (a late event is evaluated at the date already reached).
    """
    repo = uow.repository
    as_of = as_of or await ctx.clock_for(repo).today()
    if as_of is None:
        return None
    active = await repo.active_findings(lock=True)
    last = await repo.last_evaluated()
    if last is not None and as_of < last:
        as_of = last
    version, _, evaluation = await _evaluation(repo, ctx, as_of)
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
        await repo.apply_transition(t, as_of, envelope.event_id)
        uow.emit(envelope)
        log.info("drift.changed", change=t.change, area_id=t.area_id, kind=t.kind.value, subject_id=t.subject_id,
                 as_of=as_of.isoformat())
    await repo.mark_evaluated(as_of, version)
    return evaluation


async def apply_drift_events(uow: UoW, ctx: Context,
                             events: Sequence[Envelope[ThemeUpdated | ActionMilestoneUpdated]]) -> None:
    """theme-updated and action-milestone-updated, one or a batch, in the consumer's transaction.

    Each event is recorded in order (the latest value of each figure, each milestone) and the event clock
    advanced; then drift is evaluated once, if the batch changed something the plan watches or moved the
    clock's date. No state between two of its events is ever seen: drift-flagged / drift-cleared carry the
    net change, caused by the batch's last event that mattered. (At 100 audits a second reporting
    publishes ~2,000 theme-updated a second; evaluating the plan after each was most of this service's CPU.)
    """
    if not events:
        return
    async with uow:
        repo = uow.repository
        clock = ctx.clock_for(repo)
        before = await clock.today()
        _, plan = await repo.current_plan(ctx.seed_text)
        figures = []
        cause: Envelope[Any] | None = None
        for event in events:
            p = event.payload
            if isinstance(p, ThemeUpdated):
                figures.append((p, event.event_id, event.occurred_at))
                if watches(plan, p):
                    cause = event
                continue
            area = plan.area(p.area_id)
            if area is None or area.action(p.action_id) is None:
                raise UnknownAction(f"action {p.action_id!r} is not in area {p.area_id!r} of the action plan")
            await repo.record_milestone(
                event_id=event.event_id, area_id=p.area_id, action_id=p.action_id, status=p.status,
                updated_by=p.updated_by, updated_on=p.updated_on, note=None, applied=True,
            )
            cause = event
        await repo.upsert_figures(figures)
        times = sorted(event.occurred_at for event in events)
        for at in {times[0], times[-1]}:
            await repo.advance_clock(at)
        if cause is not None or await clock.today() != before:
            await reevaluate(uow, ctx, causation=cause or events[-1])
        await uow.commit()


async def record_work(uow: UoW, event: Envelope[M],
                      entry: Callable[[Repository], Callable[[M, datetime], Awaitable[None]]]) -> None:
    """An event of the work ledger behind the digest's overdue figures: its entry (which of the
    repository's ledger methods records it), and the event clock."""
    async with uow:
        await entry(uow.repository)(event.payload, event.occurred_at)
        await uow.repository.advance_clock(event.occurred_at)
        await uow.commit()


async def drift_status(uow: UoW, ctx: Context, as_of: date | None) -> Evaluation:
    """Each area's status as of a date (default: the clock's today), read only."""
    async with uow:
        as_of = as_of or await ctx.clock_for(uow.repository).today()
        if as_of is None:
            raise Conflict("no event time yet: give as_of")
        _, _, evaluation = await _evaluation(uow.repository, ctx, as_of)
        await uow.commit()
    return evaluation


async def drift_log(uow: UoW, after: date | None,
                    until: date | None) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """Flags raised and cleared in (after, until], and the findings in drift now."""
    async with uow:
        events = await uow.repository.drift_events(after, until)
        active = await uow.repository.active_findings()
    return events, sorted(active)


# -- the plan -------------------------------------------------------------------------------------------


async def plan_in_force(uow: UoW, ctx: Context) -> tuple[int, ActionPlan]:
    """The plan and its version; the plan file becomes version 1 the first time."""
    async with uow:
        plan = await uow.repository.current_plan(ctx.seed_text)
        await uow.commit()
    return plan


async def plan_history(uow: UoW, ctx: Context) -> list[dict[str, Any]]:
    async with uow:
        await uow.repository.current_plan(ctx.seed_text)
        history = await uow.repository.plan_history()
        await uow.commit()
    return history


async def plan_at_version(uow: UoW, version: int) -> ActionPlan:
    async with uow:
        plan = await uow.repository.plan_at_version(version)
    if plan is None:
        raise UnknownPlanVersion(f"no plan version {version}")
    return plan


async def replace_area(uow: UoW, ctx: Context, area_id: str, raw: dict[str, Any], *, changed_by: str, summary: str,
                       base_version: int | None) -> int:
    """Replace one area (its actions, dates, owners, indicators): a new plan version."""
    area = _parsed(Area, raw, "area")
    if area.area_id.value != area_id:
        raise Invalid(f"area.area_id {area.area_id.value!r} does not match the path {area_id!r}", field="area.area_id")

    def change(plan: ActionPlan) -> ActionPlan:
        if plan.area(area_id) is None:
            raise UnknownArea(f"no area {area_id!r} in the plan")
        return plan.with_area(area)

    return await _change_plan(uow, ctx, change, changed_by=changed_by, summary=summary, base_version=base_version)


async def replace_indicator(uow: UoW, ctx: Context, area_id: str, indicator_id: str, raw: dict[str, Any], *,
                            changed_by: str, summary: str, base_version: int | None) -> int:
    """Add or replace one indicator of an area: a new plan version."""
    indicator = _parsed(Indicator, raw, "indicator")
    if indicator.indicator_id != indicator_id:
        raise Invalid("indicator.indicator_id does not match the path", field="indicator.indicator_id")

    def change(plan: ActionPlan) -> ActionPlan:
        area = plan.area(area_id)
        if area is None:
            raise UnknownArea(f"no area {area_id!r} in the plan")
        others = [i for i in area.indicators if i.indicator_id != indicator_id]
        return plan.with_area(area.model_copy(update={"indicators": [*others, indicator]}))

    return await _change_plan(uow, ctx, change, changed_by=changed_by, summary=summary, base_version=base_version)


async def _change_plan(uow: UoW, ctx: Context, change: Callable[[ActionPlan], ActionPlan], *, changed_by: str,
                       summary: str, base_version: int | None) -> int:
    async with uow:
        repo = uow.repository
        _, plan = await repo.current_plan(ctx.seed_text)
        changed = change(plan)
        await repo.lock_plan()
        version, _ = await repo.current_plan(ctx.seed_text)
        if base_version is not None and base_version != version:
            raise StalePlan(
                f"the plan is at version {version}, not {base_version}: reload it and apply the change again")
        new = version + 1
        await repo.add_plan_version(new, changed.model_copy(update={"plan_version": new}), changed_by=changed_by,
                                    summary=summary)
        await reevaluate(uow, ctx)
        await uow.commit()
    return new


# -- milestones -----------------------------------------------------------------------------------------


async def report_milestone(uow: UoW, ctx: Context, *, area_id: str, action_id: str, status: MilestoneStatus,
                           updated_by: str, updated_on: date | None,
                           note: str | None) -> Envelope[ActionMilestoneUpdated]:
    """Record an owner's progress (the note stays in the database) and announce it on the topic."""
    async with uow:
        repo = uow.repository
        _, plan = await repo.current_plan(ctx.seed_text)
        _require_action(plan, area_id, action_id)
        updated_on = updated_on or await ctx.clock_for(repo).today() or await WallClock().today()
        assert updated_on is not None  # the wall clock always knows the date
        payload = ActionMilestoneUpdated(
            area_id=area_id, action_id=action_id, status=status, updated_by=updated_by, updated_on=updated_on
        )
        envelope = new_envelope(payload, source=SOURCE, occurred_at=at_midnight(updated_on))
        await repo.record_milestone(
            event_id=envelope.event_id, area_id=area_id, action_id=action_id, status=status,
            updated_by=updated_by, updated_on=updated_on, note=note, applied=False,
        )
        uow.emit(envelope)
        await uow.commit()
    return envelope


async def milestone_log(uow: UoW, area_id: str | None) -> list[dict[str, Any]]:
    async with uow:
        return await uow.repository.milestone_log(area_id)


# -- the Board digest -----------------------------------------------------------------------------------


@dataclass
class DigestOutcome:
    digest_id: str
    period: str
    issued: bool  # False: the period already had a digest, nothing was sent
    sent: bool
    summary: dict[str, Any]


async def issue_digest(uow: UoW, ctx: Context, *, as_of: date, period: str | None = None, force: bool = False,
                       send: bool = True) -> DigestOutcome:
    """Build the digest as of a date, render it, store it and announce it (`board-digest-issued`), then
    send it. A period that already has a digest returns that digest and sends nothing, unless forced."""
    period = period or ctx.schedule.period_for(as_of)
    board_date = ctx.schedule.board_date_of(period)
    async with uow:
        repo = uow.repository
        # one issue per period at a time, held while the digest is built, rendered, stored and announced
        await repo.lock_digest_period(period)
        existing = await repo.latest_digest(period)
        if existing is not None and not force:
            return DigestOutcome(existing["digest_id"], period, False, existing["sent_at"] is not None,
                                 _summary(existing["summary"]))
        digest_id = f"digest-{period}-{await repo.digests_issued(period) + 1}"
        view, summary = await _digest_view(repo, ctx, digest_id=digest_id, period=period, board_date=board_date,
                                           as_of=as_of)
        html = await asyncio.to_thread(ctx.renderer.html, view)
        pdf = await asyncio.to_thread(ctx.renderer.pdf, html)
        sha = hashlib.sha256(pdf).hexdigest()
        issued_at = datetime.now(UTC)
        await repo.insert_digest(
            digest_id=digest_id, period=period, board_date=board_date, as_of=as_of, issued_at=issued_at,
            forced=existing is not None, html=html, pdf=pdf, pdf_sha256=sha, summary=summary,
            recipients=ctx.mailer.recipients if send else [],
        )
        uow.emit(new_envelope(BoardDigestIssued(
            digest_id=digest_id, period=period, board_date=board_date, as_of=as_of, issued_at=issued_at,
            areas_by_status=summary["areas_by_status"], flags_raised=summary["flags_raised"],
            flags_cleared=summary["flags_cleared"], overdue_audits=summary["overdue_audits"],
            overdue_escalations=summary["overdue_escalations"], outstanding_concerns=summary["outstanding_concerns"],
            pdf_sha256=sha,
        ), source=SOURCE, occurred_at=at_midnight(as_of)))
        await uow.commit()
    ctx.renderer.keep_copies(digest_id, html, pdf)
    log.info("digest.issued", digest_id=digest_id, period=period, as_of=as_of.isoformat())
    outcome = DigestOutcome(digest_id, period, True, False, summary)
    if send:
        outcome.sent = await deliver(uow, ctx, digest_id)
    return outcome


async def deliver(uow: UoW, ctx: Context, digest_id: str) -> bool:
    """Send a stored digest to the Board's recipients; True once it went. The row is locked while it is
    sent, so the scheduler and an API call never send the same digest twice; a failed send is tried
    again by the scheduler (`sent_at` stays null)."""
    if not ctx.mailer.recipients:
        return False
    async with uow:
        row = await uow.repository.unsent_digest(digest_id)
        if row is None:
            return False
        try:
            await ctx.mailer.send_digest(
                digest_id=digest_id, period=row["period"], board_date=row["board_date"], as_of=row["as_of"],
                html=row["html"], pdf=bytes(row["pdf"]), summary=_summary(row["summary"]),
            )
        except Exception as exc:  # the scheduler tries again
            log.warning("digest.send_failed", digest_id=digest_id, error=type(exc).__name__)
            return False
        await uow.repository.mark_sent(digest_id)
        await uow.commit()
    log.info("digest.sent", digest_id=digest_id, recipients=len(ctx.mailer.recipients))
    return True


async def run_schedule(uow: UoW, ctx: Context) -> list[DigestOutcome]:
    """Re-evaluate drift at today's date, issue every digest that fell due, and resend unsent ones."""
    async with uow:
        today = await ctx.clock_for(uow.repository).today()
        since = await _observed_since(uow.repository, ctx, today)
        unsent = await uow.repository.unsent_digests()
    if today is None or since is None:
        return []
    async with uow:
        await reevaluate(uow, ctx, as_of=today)
        await uow.commit()
    outcomes = []
    for period, issue_date, _board in ctx.schedule.due_periods(since, today):
        outcome = await issue_digest(uow, ctx, as_of=issue_date, period=period)
        if outcome.issued:
            outcomes.append(outcome)
    for row in unsent:
        await deliver(uow, ctx, row["digest_id"])
    return outcomes


async def _observed_since(repo: Repository, ctx: Context, today: date | None) -> date | None:
    """The first date of the observed period, from which due digests are issued: as configured, else
    the first event's date on event time, else the first date the schedule saw."""
    if ctx.settings.digest_since is not None:
        return ctx.settings.digest_since
    if ctx.event_time:
        first = await repo.first_event_time()
        return local_date(first) if first is not None else None
    ctx.first_seen = ctx.first_seen or today
    return ctx.first_seen


async def digests(uow: UoW) -> list[dict[str, Any]]:
    async with uow:
        return await uow.repository.digest_list()


async def digest_document(uow: UoW, digest_id: str) -> Any:
    async with uow:
        row = await uow.repository.digest_document(digest_id)
    if row is None:
        raise UnknownDigest(f"no digest {digest_id!r}")
    return row


def _summary(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


async def _digest_view(repo: Repository, ctx: Context, *, digest_id: str, period: str, board_date: date,
                       as_of: date) -> tuple[DigestView, dict[str, Any]]:
    version, plan, evaluation = await _evaluation(repo, ctx, as_of)
    previous = await repo.latest_digest(before_period=period)
    previous_as_of = previous["as_of"] if previous else None
    events = await repo.drift_events(after=previous_as_of, until=as_of)
    raised = [e for e in events if e["change"] == "flagged"]
    cleared = [e for e in events if e["change"] == "cleared"]
    year_start = ctx.year_start(as_of)
    ops = await repo.ops_figures(as_of, year_start)
    months = min(12, max(0, Month.of(as_of) - Month.of(year_start) + 1))
    s = ctx.settings

    areas = []
    charts: list[ChartSeries] = []
    last = last_complete_month(as_of)
    for area_eval in evaluation.areas:
        area = plan.area(area_eval.area_id)
        assert area is not None
        areas.append({
            "area_id": area_eval.area_id, "title": area.area_of_concern, "status": area_eval.status.value,
            "explanation": area_eval.explanation,
        })
        for r in area_eval.indicators:
            if r.status not in (AreaStatus.DRIFTING, AreaStatus.AT_RISK) or len(charts) >= MAX_CHARTS:
                continue
            ind = next(i for i in area.indicators if i.indicator_id == r.indicator_id)
            series = await repo.figure_series(ind.figure, ind.window_months, shift_month(last, -11), last)
            points = [
                (pe, (100.0 * c / d) if ind.kind == "proportion" else c / ind.window_months)
                for pe, c, d in series if ind.kind != "proportion" or d > 0
            ]
            charts.append(ChartSeries(
                title=f"{ind.description} — rolling {ind.window_months} months ({r.status.value})",
                unit="%" if ind.kind == "proportion" else "a month",
                points=points,
                baseline=r.figures.get("baseline"),  # type: ignore[arg-type]
                tolerated=r.figures.get("tolerated"),  # type: ignore[arg-type]
                target=ind.target,
            ))
    counts = {k.value: v for k, v in evaluation.counts().items()}
    view = DigestView(
        digest_id=digest_id, period=period, board_date=board_date.isoformat(), as_of=as_of.isoformat(),
        plan_version=version, areas=areas, counts=counts,
        raised=[_flag(e) for e in raised], cleared=[_flag(e) for e in cleared],
        previous_as_of=previous_as_of.isoformat() if previous_as_of else None,
        ops=ops, year_start=year_start.isoformat(), target_low=s.yearly_target_low, target_high=s.yearly_target_high,
        pro_rata_low=math.floor(s.yearly_target_low * months / 12),
        pro_rata_high=math.ceil(s.yearly_target_high * months / 12),
        charts=charts,
    )
    summary = {
        "areas_by_status": counts, "flags_raised": len(raised), "flags_cleared": len(cleared),
        "overdue_audits": ops["audits_overdue"], "overdue_escalations": ops["escalations_overdue"],
        "outstanding_concerns": ops["concerns_last_quarter"], "ops": ops, "plan_version": version,
        "areas": {a["area_id"]: a["status"] for a in areas},
    }
    return view, summary


def _flag(e: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in e.items() if k in
            ("change", "area_id", "kind", "subject_id", "status", "as_of", "explanation")}
