"""CPA/IRO escalations (dispute resolution), on working-day timescales.

An escalation starts at the informal stage (or straight at a formal one), and moves only forward up
the management line: informal → team manager → service manager → head of service → director. Each
stage is answered within its timescale (5 working days by default), and the formal stages together
within 20 working days from the first formal stage (both configurable): a formal stage is due at the
earlier of its own timescale and the end of the whole formal process.

A stage is answered when the escalation leaves it: progressed to a later stage, resolved or
withdrawn. A stage whose due date passes unanswered is overdue, once: `escalation-overdue` is emitted
by the sweep as of a later date, or, when the escalation moves on late before any sweep saw it, just
before the move, so the count of overdue stages never depends on when the sweep ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType

from qaf_shared.calendar import WorkingCalendar
from qaf_shared.contracts import EscalationOverdue, EscalationProgressed, EscalationRaised, EscalationResolved
from qaf_shared.vocabulary import EscalationOutcome, EscalationReason, EscalationRole, EscalationStage, Service, Theme

from qaf_escalations.domain.errors import IllegalTransition, InvalidInput
from qaf_escalations.domain.events import Emitted
from qaf_escalations.domain.themes import escalation_theme

STAGES: tuple[EscalationStage, ...] = tuple(EscalationStage)
FORMAL_STAGES: tuple[EscalationStage, ...] = STAGES[1:]
RESOLUTION_OUTCOMES = frozenset({EscalationOutcome.RESOLVED, EscalationOutcome.PLAN_CHANGED, EscalationOutcome.REFERRED_ON})


def stage_rank(stage: EscalationStage) -> int:
    return STAGES.index(stage)


@dataclass(frozen=True)
class EscalationTimescales:
    stage_days: Mapping[EscalationStage, int] = field(
        default_factory=lambda: MappingProxyType({stage: 5 for stage in STAGES})
    )
    formal_total_days: int = 20

    def due_on(
        self, calendar: WorkingCalendar, stage: EscalationStage, started_on: date, formal_started_on: date | None
    ) -> date:
        due = calendar.add_working_days(started_on, self.stage_days[stage])
        if stage in FORMAL_STAGES and formal_started_on is not None:
            formal_due = calendar.add_working_days(formal_started_on, self.formal_total_days)
            due = max(started_on, min(due, formal_due))
        return due


class EscalationStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"


@dataclass
class Step:
    """One stage of one escalation: when it started, when it is due, how it ended."""

    stage: EscalationStage
    started_on: date
    due_on: date
    addressed_to_manager_id: str
    ended_on: date | None = None
    ended_by: str | None = None  # "progressed" | "resolved" | "withdrawn"


@dataclass
class Escalation:
    escalation_id: str
    case_id: str
    service: Service
    raised_by_role: EscalationRole
    raised_by_id: str
    reason: EscalationReason
    addressed_to_team_id: str
    raised_on: date
    steps: list[Step]
    status: EscalationStatus = EscalationStatus.OPEN
    outcome: EscalationOutcome | None = None
    closed_on: date | None = None
    within_timescale: bool | None = None
    overdue_stages: set[EscalationStage] = field(default_factory=set)

    @property
    def theme(self) -> Theme:
        return escalation_theme(self.reason)

    @property
    def current(self) -> Step:
        return self.steps[-1]

    @property
    def stage(self) -> EscalationStage:
        return self.current.stage

    @property
    def addressed_to_manager_id(self) -> str:
        return self.current.addressed_to_manager_id

    @property
    def formal_started_on(self) -> date | None:
        for step in self.steps:
            if step.stage in FORMAL_STAGES:
                return step.started_on
        return None

    # --- operations ---------------------------------------------------------------------------

    @classmethod
    def raise_(
        cls,
        *,
        escalation_id: str,
        case_id: str,
        service: Service,
        raised_by_role: EscalationRole,
        raised_by_id: str,
        reason: EscalationReason,
        stage: EscalationStage,
        addressed_to_team_id: str,
        addressed_to_manager_id: str,
        raised_on: date,
        calendar: WorkingCalendar,
        timescales: EscalationTimescales,
    ) -> tuple[Escalation, list[Emitted]]:
        formal_start = raised_on if stage in FORMAL_STAGES else None
        due = timescales.due_on(calendar, stage, raised_on, formal_start)
        escalation = cls(
            escalation_id=escalation_id,
            case_id=case_id,
            service=service,
            raised_by_role=raised_by_role,
            raised_by_id=raised_by_id,
            reason=reason,
            addressed_to_team_id=addressed_to_team_id,
            raised_on=raised_on,
            steps=[Step(stage, raised_on, due, addressed_to_manager_id)],
        )
        event = EscalationRaised(
            escalation_id=escalation_id,
            case_id=case_id,
            service=service,
            raised_by_role=raised_by_role,
            raised_by_id=raised_by_id,
            reason=reason,
            theme=escalation.theme,
            stage=stage,
            addressed_to_team_id=addressed_to_team_id,
            addressed_to_manager_id=addressed_to_manager_id,
            raised_on=raised_on,
            due_on=due,
        )
        return escalation, [Emitted(event, raised_on)]

    def progress(
        self,
        *,
        on: date,
        to_stage: EscalationStage | None,
        addressed_to_manager_id: str,
        calendar: WorkingCalendar,
        timescales: EscalationTimescales,
    ) -> list[Emitted]:
        current = self.current
        to_stage = self.target_of_progress(to_stage)
        self._not_before(on, current.started_on, "progressed_on")
        emitted = self._overdue_if_late(on)
        current.ended_on, current.ended_by = on, "progressed"
        formal_start = self.formal_started_on or (on if to_stage in FORMAL_STAGES else None)
        due = timescales.due_on(calendar, to_stage, on, formal_start)
        self.steps.append(Step(to_stage, on, due, addressed_to_manager_id))
        emitted.append(
            Emitted(
                EscalationProgressed(
                    escalation_id=self.escalation_id,
                    service=self.service,
                    reason=self.reason,
                    theme=self.theme,
                    from_stage=current.stage,
                    to_stage=to_stage,
                    addressed_to_manager_id=addressed_to_manager_id,
                    progressed_on=on,
                    due_on=due,
                ),
                on,
            )
        )
        return emitted

    def target_of_progress(self, to_stage: EscalationStage | None) -> EscalationStage:
        """The stage a progression goes to (the next one unless named), or why it cannot."""
        self._must_be_open("progress")
        current = self.current
        if to_stage is None:
            if current.stage == STAGES[-1]:
                raise IllegalTransition(
                    f"escalation {self.escalation_id} is already at the last stage ({current.stage}); "
                    "it can only be resolved or withdrawn now"
                )
            return STAGES[stage_rank(current.stage) + 1]
        if stage_rank(to_stage) <= stage_rank(current.stage):
            direction = "the stage it is at" if to_stage == current.stage else "backwards"
            raise IllegalTransition(
                f"escalation {self.escalation_id} is at stage {current.stage}; progressing to {to_stage} "
                f"would go {direction} (escalations only move up the management line)",
                "to_stage",
            )
        return to_stage

    def resolve(self, *, on: date, outcome: EscalationOutcome) -> list[Emitted]:
        if outcome not in RESOLUTION_OUTCOMES:
            raise InvalidInput(
                f"outcome {outcome} is not a resolution; use one of "
                f"{', '.join(sorted(RESOLUTION_OUTCOMES))} (or withdraw the escalation)",
                "outcome",
            )
        self._must_be_open("resolve")
        return self._close(on, outcome, EscalationStatus.RESOLVED, "resolved_on")

    def withdraw(self, *, on: date) -> list[Emitted]:
        self._must_be_open("withdraw")
        return self._close(on, EscalationOutcome.WITHDRAWN, EscalationStatus.WITHDRAWN, "withdrawn_on")

    def overdue_as_of(self, as_of: date) -> list[Emitted]:
        """The overdue event of the current stage, if its due date passed before `as_of` and none was sent."""
        if self.status is not EscalationStatus.OPEN:
            return []
        return self._overdue_if_late(as_of)

    # --- rules --------------------------------------------------------------------------------

    def _close(self, on: date, outcome: EscalationOutcome, status: EscalationStatus, field: str) -> list[Emitted]:
        current = self.current
        self._not_before(on, current.started_on, field)
        emitted = self._overdue_if_late(on)
        current.ended_on, current.ended_by = on, status.value
        self.status, self.outcome, self.closed_on = status, outcome, on
        self.within_timescale = on <= current.due_on
        emitted.append(
            Emitted(
                EscalationResolved(
                    escalation_id=self.escalation_id,
                    service=self.service,
                    reason=self.reason,
                    theme=self.theme,
                    stage=current.stage,
                    outcome=outcome,
                    resolved_on=on,
                    within_timescale=self.within_timescale,
                ),
                on,
            )
        )
        return emitted

    def _overdue_if_late(self, on: date) -> list[Emitted]:
        current = self.current
        if on <= current.due_on or current.stage in self.overdue_stages:
            return []
        self.overdue_stages.add(current.stage)
        event = EscalationOverdue(
            escalation_id=self.escalation_id,
            service=self.service,
            reason=self.reason,
            theme=self.theme,
            stage=current.stage,
            due_on=current.due_on,
        )
        return [Emitted(event, current.due_on + timedelta(days=1))]

    def _must_be_open(self, action: str) -> None:
        if self.status is not EscalationStatus.OPEN:
            how = f"resolved ({self.outcome})" if self.status is EscalationStatus.RESOLVED else "withdrawn"
            raise IllegalTransition(
                f"cannot {action} escalation {self.escalation_id}: it was already {how} "
                f"on {self.closed_on.isoformat() if self.closed_on else '?'}"
            )

    def _not_before(self, on: date, start: date, field: str) -> None:
        if on < start:
            raise InvalidInput(
                f"{field} {on.isoformat()} is before stage {self.stage} of escalation {self.escalation_id} "
                f"started ({start.isoformat()})",
                field,
            )
