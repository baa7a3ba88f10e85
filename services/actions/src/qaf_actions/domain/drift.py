"""Drift against the action plan, as of an event-time date. Pure and deterministic.

Three kinds of drift (qaf_shared.vocabulary.DriftKind):

1. trend — an indicator, after its grace period, is worse than its baseline by more than its
   tolerance, and the evidence says so beyond chance: for a proportion the 95% Wilson score interval
   lies wholly on the wrong side of the tolerated level; for a count per month the one-sided exact
   Poisson test against the tolerated rate has p < 0.025. A worsening the numbers cannot confirm yet
   (a rate from 3 cases) is "at risk", never a flag. Exactly at tolerance is not beyond it.
2. milestone — a proposed action's date passed without it being done ("June 13" and still in
   progress in July), or an ongoing action ("from December 12") never started.
3. no evidence — no figure for the indicator in its window, or too small a sample to judge.

Area status: drifting if any trend or milestone drift; else at risk if any indicator or action is at
risk (or some indicators lack evidence); else no evidence if none of its indicators has any; else on
track. Figures are those of the last complete month as of the date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from qaf_shared.contracts.reporting import ThemeUpdated
from qaf_shared.months import Month, add_months
from qaf_shared.vocabulary import AreaStatus, DriftKind, MilestoneStatus

from qaf_actions.domain.plan import ActionPlan, Area, FigureSpec, Indicator, ProposedAction, baseline_period
from qaf_actions.domain.stats import poisson_p_at_least, poisson_p_at_most, wilson_interval

FigureKey = tuple[str, str, str, str, str, int, str]  # theme, measure, question, category, service, window, period_end
FigureValue = Scalar = float | int | str | None


@dataclass(frozen=True)
class Figure:
    count: int
    denominator: int


def figure_key(spec: FigureSpec | ThemeUpdated, window_months: int, period_end: str) -> FigureKey:
    return (
        spec.theme.value,
        spec.measure,
        spec.question_id or "",
        spec.category or "",
        spec.service if isinstance(spec.service, str) else spec.service.value,
        window_months,
        period_end,
    )


def spec_key(spec: FigureSpec | ThemeUpdated) -> tuple[str, str, str, str, str]:
    """Which figure a spec (or a reported figure) is, whatever its window and month."""
    return figure_key(spec, 0, "")[:5]  # type: ignore[return-value]


def watches(plan: ActionPlan, figure: ThemeUpdated) -> bool:
    """Whether the plan has an indicator on this figure."""
    return spec_key(figure) in {spec_key(s) for s in plan.figures_watched()}


def shift_month(label: str, months: int) -> str:
    """A month written YYYY-MM, `months` later (or earlier), written the same way."""
    return Month.parse(label).shift(months).label


def last_complete_month(as_of: date) -> str:
    """The month whose figures are final as of a date: this month if the date is its last day."""
    return Month.of(as_of + timedelta(days=1)).shift(-1).label


def _fmt(value: float, kind: str) -> str:
    return f"{value:.1f}%" if kind == "proportion" else f"{value:.2f} a month"


@dataclass(frozen=True)
class IndicatorResult:
    area_id: str
    indicator_id: str
    status: AreaStatus
    explanation: str
    figures: dict[str, FigureValue]
    in_grace: bool = False


@dataclass(frozen=True)
class ActionResult:
    area_id: str
    action_id: str
    status: AreaStatus
    milestone: MilestoneStatus
    explanation: str
    figures: dict[str, FigureValue]


@dataclass(frozen=True)
class Finding:
    """One thing in drift: the unit that is flagged once and cleared once."""

    area_id: str
    kind: DriftKind
    subject_id: str  # the indicator's id, or the action's for a milestone
    indicator_id: str | None
    explanation: str
    figures: dict[str, FigureValue]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.area_id, self.kind.value, self.subject_id)


@dataclass(frozen=True)
class AreaEvaluation:
    area_id: str
    status: AreaStatus
    explanation: str
    indicators: list[IndicatorResult]
    actions: list[ActionResult]
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    as_of: date
    plan_version: int
    areas: list[AreaEvaluation]

    def area(self, area_id: str) -> AreaEvaluation:
        return next(a for a in self.areas if a.area_id == area_id)

    @property
    def findings(self) -> list[Finding]:
        return [f for a in self.areas for f in a.findings]

    def counts(self) -> dict[AreaStatus, int]:
        out = {s: 0 for s in AreaStatus}
        for a in self.areas:
            out[a.status] += 1
        return out


MilestoneHistory = Mapping[str, Sequence[tuple[date, MilestoneStatus]]]


def milestone_as_of(history: Sequence[tuple[date, MilestoneStatus]], as_of: date) -> tuple[MilestoneStatus, date | None]:
    """The latest reported status on or before the date (in the order reported); not started if none."""
    current, when = MilestoneStatus.NOT_STARTED, None
    for updated_on, status in history:
        if updated_on <= as_of and (when is None or updated_on >= when):
            current, when = status, updated_on
    return current, when


def evaluate_action(area_id: str, action: ProposedAction, history: Sequence[tuple[date, MilestoneStatus]], as_of: date) -> ActionResult:
    status, when = milestone_as_of(history, as_of)
    written = f" ({action.date_as_written})" if action.date_as_written else ""
    reported = f"reported {status.value} on {when.isoformat()}" if when else "no progress reported"
    figures: dict[str, FigureValue] = {
        "action_id": action.action_id,
        "milestone": status.value,
        "starts_on": action.starts_on.isoformat() if action.starts_on else None,
        "due_on": action.due_on.isoformat() if action.due_on else None,
        "as_of": as_of.isoformat(),
    }
    name = f"Action {action.action_id}"
    if status is MilestoneStatus.DONE:
        return ActionResult(area_id, action.action_id, AreaStatus.ON_TRACK, status, f"{name} is done ({reported}).", figures)
    if action.due_on is not None and as_of > action.due_on:
        days = (as_of - action.due_on).days
        return ActionResult(
            area_id, action.action_id, AreaStatus.DRIFTING, status,
            f"{name} was due by {action.due_on.isoformat()}{written} and is not done, {days} days later: {reported}.",
            figures | {"days_overdue": days},
        )
    if action.starts_on is not None:
        start_month_end = Month.of(action.starts_on).last_day()
        if as_of > start_month_end and status is MilestoneStatus.NOT_STARTED:
            if action.due_on is None:
                return ActionResult(
                    area_id, action.action_id, AreaStatus.DRIFTING, status,
                    f"{name} should be under way from {action.starts_on.isoformat()}{written} and has not started: {reported}.",
                    figures,
                )
            return ActionResult(
                area_id, action.action_id, AreaStatus.AT_RISK, status,
                f"{name} should be under way since {action.starts_on.isoformat()}{written}, due {action.due_on.isoformat()}, "
                f"and has not started: {reported}.",
                figures,
            )
    if status is MilestoneStatus.BLOCKED:
        return ActionResult(area_id, action.action_id, AreaStatus.AT_RISK, status, f"{name} is blocked ({reported}).", figures)
    return ActionResult(area_id, action.action_id, AreaStatus.ON_TRACK, status, f"{name}: {reported}.", figures)


def _find_figure(figures: Mapping[FigureKey, Figure], spec: FigureSpec, window: int, end_month: str) -> tuple[str, Figure] | None:
    for back in range(window):
        period_end = shift_month(end_month, -back)
        found = figures.get(figure_key(spec, window, period_end))
        if found is not None:
            return period_end, found
    return None


def _value(ind: Indicator, fig: Figure, window: int) -> float | None:
    if ind.kind == "proportion":
        return 100.0 * fig.count / fig.denominator if fig.denominator > 0 else None
    return fig.count / window


def _baseline(ind: Indicator, figures: Mapping[FigureKey, Figure]) -> tuple[float | None, str]:
    if ind.baseline.period is not None:
        period_end, window = baseline_period(ind.baseline.period, ind.window_months)
        fig = figures.get(figure_key(ind.figure, window, period_end))
        if fig is not None:
            value = _value(ind, fig, window)
            if value is not None:
                return value, f"the {ind.baseline.period} figure ({fig.count}/{fig.denominator})" if ind.kind == "proportion" else f"the {ind.baseline.period} figure ({fig.count} in {window} months)"
        if ind.baseline.value is not None:
            return ind.baseline.value, f"the stated {ind.baseline.period} baseline (no figures for that period)"
        return None, f"no figures for the baseline period {ind.baseline.period}"
    return ind.baseline.value, "the stated baseline"


def evaluate_indicator(
    area_id: str, ind: Indicator, figures: Mapping[FigureKey, Figure], as_of: date, grace_from: date
) -> IndicatorResult:
    window = ind.window_months
    end_month = last_complete_month(as_of)
    base: dict[str, FigureValue] = {
        "indicator": ind.indicator_id,
        "kind": ind.kind,
        "direction": ind.direction,
        "window_months": window,
        "as_of": as_of.isoformat(),
    }

    def no_evidence(why: str, extra: dict[str, FigureValue] | None = None) -> IndicatorResult:
        return IndicatorResult(area_id, ind.indicator_id, AreaStatus.NO_EVIDENCE, f"{ind.description}: {why}", base | (extra or {}))

    found = _find_figure(figures, ind.figure, window, end_month)
    if found is None:
        return no_evidence(f"no figures in the {window}-month window ending {end_month}.", {"period_end": end_month})
    period_end, fig = found
    base |= {"period_end": period_end, "count": fig.count, "denominator": fig.denominator}
    stale = f" (latest figures end {period_end})" if period_end != end_month else ""
    if ind.kind == "proportion":
        if fig.denominator == 0:
            return no_evidence(f"nothing was measured in the {window} months to {period_end}.")
        if fig.denominator < ind.min_sample:
            return no_evidence(
                f"only {fig.denominator} measured in the {window} months to {period_end}, fewer than the "
                f"{ind.min_sample} needed to judge a trend.",
                {"min_sample": ind.min_sample},
            )
    value = _value(ind, fig, window)
    assert value is not None
    baseline, baseline_source = _baseline(ind, figures)
    if baseline is None:
        return no_evidence(f"{baseline_source}, so there is nothing to compare with.")
    sign = 1 if ind.direction == "increase" else -1
    tolerated = baseline - sign * ind.tolerance
    base |= {
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "target": ind.target,
        "tolerance": ind.tolerance,
        "tolerated": round(tolerated, 3),
    }
    k = ind.kind
    now = f"{ind.description}: {_fmt(value, k)} in the {window} months to {period_end}{stale}"
    against = f"against a baseline of {_fmt(baseline, k)} ({baseline_source})"

    grace_end = add_months(grace_from, ind.grace_months)
    if as_of < grace_end:
        return IndicatorResult(
            area_id, ind.indicator_id, AreaStatus.ON_TRACK,
            f"{now}, {against}; in its grace period until {grace_end.isoformat()}, so the trend is not judged yet.",
            base | {"grace_until": grace_end.isoformat()}, in_grace=True,
        )
    if ind.target is not None and sign * (value - ind.target) >= 0:
        return IndicatorResult(area_id, ind.indicator_id, AreaStatus.ON_TRACK,
                               f"{now}, {against}: the target of {_fmt(ind.target, k)} is met.", base)

    beyond = sign * (value - tolerated) < 0
    alpha = (1 - ind.confidence) / 2
    conf = f"{ind.confidence:.0%}"
    if ind.kind == "proportion":
        ci = wilson_interval(fig.count, fig.denominator, ind.confidence)
        low, high = 100 * ci.low, 100 * ci.high
        base |= {"test": "wilson", "ci_low": round(low, 3), "ci_high": round(high, 3)}
        significant = high < tolerated if sign > 0 else low > tolerated
        evidence = f"the {conf} Wilson score interval from {fig.count} of {fig.denominator} is {low:.1f}%–{high:.1f}%"
    else:
        expected = max(tolerated, 0.0) * window
        p = poisson_p_at_least(fig.count, expected) if sign < 0 else poisson_p_at_most(fig.count, expected)
        base |= {"test": "exact-poisson", "p_value": round(p, 6), "expected_at_tolerance": round(expected, 3)}
        significant = p < alpha
        evidence = (
            f"an exact Poisson test of {fig.count} in {window} months against the tolerated "
            f"{expected:.1f} gives one-sided p = {p:.3f}"
        )
    worse = "below" if sign > 0 else "above"
    if beyond and significant:
        return IndicatorResult(
            area_id, ind.indicator_id, AreaStatus.DRIFTING,
            f"{now}, {against}: {worse} the tolerated {_fmt(tolerated, k)} and not moving toward the expected "
            f"outcome; {evidence}, wholly {worse} the tolerated level." if ind.kind == "proportion" else
            f"{now}, {against}: {worse} the tolerated {_fmt(tolerated, k)} and not moving toward the expected "
            f"outcome; {evidence} (< {alpha:.3f}).",
            base,
        )
    if beyond:
        return IndicatorResult(
            area_id, ind.indicator_id, AreaStatus.AT_RISK,
            f"{now}, {against}: {worse} the tolerated {_fmt(tolerated, k)}, but {evidence}, so the numbers cannot "
            f"yet tell it from chance.",
            base,
        )
    if sign * (value - baseline) <= 0:
        return IndicatorResult(
            area_id, ind.indicator_id, AreaStatus.AT_RISK,
            f"{now}, {against}: not yet moving toward the expected outcome (within the tolerance of {_fmt(ind.tolerance, k)}).",
            base,
        )
    target = f"; target {_fmt(ind.target, k)}" if ind.target is not None else ""
    return IndicatorResult(area_id, ind.indicator_id, AreaStatus.ON_TRACK,
                           f"{now}, {against}: moving toward the expected outcome{target}.", base)


def evaluate_area(
    area: Area, plan_starts_on: date, figures: Mapping[FigureKey, Figure], milestones: MilestoneHistory, as_of: date
) -> AreaEvaluation:
    grace_from = area.starts_on(plan_starts_on)
    indicators = [evaluate_indicator(area.area_id.value, i, figures, as_of, grace_from) for i in area.indicators]
    actions = [evaluate_action(area.area_id.value, a, milestones.get(a.action_id, ()), as_of) for a in area.actions]
    statuses = [r.status for r in indicators] + [r.status for r in actions]
    evidence = [r.status for r in indicators]
    if AreaStatus.DRIFTING in statuses:
        status = AreaStatus.DRIFTING
    elif AreaStatus.AT_RISK in statuses:
        status = AreaStatus.AT_RISK
    elif not evidence or all(s is AreaStatus.NO_EVIDENCE for s in evidence):
        status = AreaStatus.NO_EVIDENCE
    elif AreaStatus.NO_EVIDENCE in evidence:
        status = AreaStatus.AT_RISK
    else:
        status = AreaStatus.ON_TRACK

    findings: list[Finding] = []
    for r in indicators:
        if r.status is AreaStatus.DRIFTING:
            findings.append(Finding(area.area_id.value, DriftKind.TREND, r.indicator_id, r.indicator_id, r.explanation, r.figures))
        elif r.status is AreaStatus.NO_EVIDENCE:
            findings.append(Finding(area.area_id.value, DriftKind.NO_EVIDENCE, r.indicator_id, r.indicator_id, r.explanation, r.figures))
    for a in actions:
        if a.status is AreaStatus.DRIFTING:
            findings.append(Finding(area.area_id.value, DriftKind.MILESTONE, a.action_id, None, a.explanation, a.figures))

    ranked = sorted(
        [r for r in indicators + actions if r.status is status] or indicators + actions,  # type: ignore[operator]
        key=lambda r: 0 if isinstance(r, IndicatorResult) else 1,
    )
    explanation = " ".join(r.explanation for r in ranked)
    if not area.indicators:
        explanation = "No indicator is defined for this area. " + explanation
    return AreaEvaluation(area.area_id.value, status, explanation[:1000], indicators, actions, findings)


def evaluate(plan: ActionPlan, figures: Mapping[FigureKey, Figure], milestones: MilestoneHistory, as_of: date) -> Evaluation:
    """Evaluate every area of the plan as of a date. The same inputs always give the same result."""
    return Evaluation(
        as_of,
        plan.plan_version,
        [evaluate_area(a, plan.plan_starts_on, figures, milestones, as_of) for a in plan.areas],
    )


# -- flag / clear transitions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    change: Literal["flagged", "cleared"]
    area_id: str
    kind: DriftKind
    subject_id: str
    indicator_id: str | None
    status: AreaStatus
    explanation: str
    figures: dict[str, FigureValue]


def transitions(
    active: Mapping[tuple[str, str, str], str | None], evaluation: Evaluation
) -> list[Transition]:
    """What changed between the findings in drift before (key -> indicator id) and the evaluation now.

    A finding already active is never flagged again; one no longer found is cleared once.
    """
    out: list[Transition] = []
    now = {f.key: f for f in evaluation.findings}
    status = {a.area_id: a for a in evaluation.areas}
    for key, finding in sorted(now.items()):
        if key not in active:
            out.append(Transition("flagged", finding.area_id, finding.kind, finding.subject_id, finding.indicator_id,
                                  status[finding.area_id].status, finding.explanation, finding.figures))
    for key in sorted(set(active) - set(now)):
        area_id, kind, subject = key
        area = status.get(area_id)
        area_status = area.status if area else AreaStatus.NO_EVIDENCE
        out.append(Transition("cleared", area_id, DriftKind(kind), subject, active[key], area_status,
                              _cleared_explanation(area, DriftKind(kind), subject, evaluation.as_of), {}))
    return out


def _cleared_explanation(area: AreaEvaluation | None, kind: DriftKind, subject: str, as_of: date) -> str:
    if area is None:
        return f"{subject} is no longer in the action plan as of {as_of.isoformat()}."
    for r in area.indicators:
        if r.indicator_id == subject:
            return f"No longer in {kind.value} drift as of {as_of.isoformat()}. {r.explanation}"[:1000]
    for a in area.actions:
        if a.action_id == subject:
            return f"No longer in {kind.value} drift as of {as_of.isoformat()}. {a.explanation}"[:1000]
    return f"{subject} is no longer part of area {area.area_id} as of {as_of.isoformat()}."
