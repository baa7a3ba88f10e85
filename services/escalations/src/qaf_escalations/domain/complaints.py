"""The complaints desk: the statutory three-stage representations procedure, in working days.

- Stage 1, local resolution: answered within 10 working days, extendable to 20.
- Stage 2, investigation: 25 working days, extendable to 65.
- Stage 3, review panel: 30 working days from the request for a panel to its findings, not
  extendable (statutory guidance has the panel meet within 30 working days of the request; we hold
  the stage answered when the panel's outcome is recorded). Configurable like the others.

Each stage is a record of its own (received, due, extended, answered or escalated unanswered), so
timeliness is kept per stage. The complainant may take the complaint to the next stage once the
current stage is answered, or once its timescale has passed unanswered; `complaint-logged` is sent
again with the new stage. An extension is agreed before the timescale runs out, with a reason
code, and up to the stage's maximum. A withdrawn complaint is closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from qaf_shared.calendar import WorkingCalendar
from qaf_shared.contracts import ComplaintLogged, ComplaintResolved
from qaf_shared.vocabulary import ComplaintCategory, ComplaintOutcome, ComplaintStage, Service, Theme

from qaf_escalations.domain.errors import IllegalTransition, InvalidInput
from qaf_escalations.domain.events import Emitted
from qaf_escalations.domain.themes import complaint_theme

STAGES: tuple[ComplaintStage, ...] = tuple(ComplaintStage)
STAGE_NAMES = {
    ComplaintStage.STAGE_1: "stage 1 (local resolution)",
    ComplaintStage.STAGE_2: "stage 2 (investigation)",
    ComplaintStage.STAGE_3: "stage 3 (review panel)",
}


class ExtensionReason(StrEnum):
    COMPLEX_COMPLAINT = "complex-complaint"
    AWAITING_INFORMATION = "awaiting-information"
    COMPLAINANT_AVAILABILITY = "complainant-availability"
    INVESTIGATOR_AVAILABILITY = "investigator-availability"
    AGREED_WITH_COMPLAINANT = "agreed-with-complainant"
    OTHER = "other"


@dataclass(frozen=True)
class StageTimescale:
    working_days: int
    max_working_days: int  # equal to working_days when the stage cannot be extended

    @property
    def extendable(self) -> bool:
        return self.max_working_days > self.working_days


@dataclass(frozen=True)
class ComplaintTimescales:
    stages: Mapping[ComplaintStage, StageTimescale] = field(
        default_factory=lambda: MappingProxyType(
            {
                ComplaintStage.STAGE_1: StageTimescale(10, 20),
                ComplaintStage.STAGE_2: StageTimescale(25, 65),
                ComplaintStage.STAGE_3: StageTimescale(30, 30),
            }
        )
    )

    def __getitem__(self, stage: ComplaintStage) -> StageTimescale:
        return self.stages[stage]


@dataclass(frozen=True)
class Extension:
    extended_on: date
    from_working_days: int
    to_working_days: int
    reason: ExtensionReason


@dataclass
class StageRecord:
    stage: ComplaintStage
    received_on: date
    working_days: int
    due_on: date
    extensions: list[Extension] = field(default_factory=list)
    resolved_on: date | None = None
    outcome: ComplaintOutcome | None = None
    within_timescale: bool | None = None
    escalated_on: date | None = None  # taken to the next stage before it was answered

    @property
    def is_open(self) -> bool:
        return self.resolved_on is None and self.escalated_on is None


class ComplaintStatus(StrEnum):
    OPEN = "open"  # the current stage awaits its answer
    ANSWERED = "answered"  # the current stage was answered; the complainant may go further
    WITHDRAWN = "withdrawn"


@dataclass
class Complaint:
    complaint_id: str
    case_id: str | None
    service: Service
    category: ComplaintCategory
    stages: list[StageRecord]

    @property
    def theme(self) -> Theme:
        return complaint_theme(self.category)

    @property
    def current(self) -> StageRecord:
        return self.stages[-1]

    @property
    def status(self) -> ComplaintStatus:
        if self.current.outcome is ComplaintOutcome.WITHDRAWN:
            return ComplaintStatus.WITHDRAWN
        return ComplaintStatus.OPEN if self.current.is_open else ComplaintStatus.ANSWERED

    @classmethod
    def log(
        cls,
        *,
        complaint_id: str,
        case_id: str | None,
        service: Service,
        category: ComplaintCategory,
        received_on: date,
        calendar: WorkingCalendar,
        timescales: ComplaintTimescales,
    ) -> tuple[Complaint, list[Emitted]]:
        complaint = cls(complaint_id, case_id, service, category, [])
        return complaint, [complaint._open_stage(ComplaintStage.STAGE_1, received_on, calendar, timescales)]

    def escalate(self, *, on: date, calendar: WorkingCalendar, timescales: ComplaintTimescales) -> list[Emitted]:
        current = self.current
        if self.status is ComplaintStatus.WITHDRAWN:
            raise IllegalTransition(f"complaint {self.complaint_id} was withdrawn on {current.resolved_on}")
        if current.stage == STAGES[-1]:
            raise IllegalTransition(
                f"complaint {self.complaint_id} is at {STAGE_NAMES[current.stage]}, the last stage of the procedure"
            )
        start = current.resolved_on or current.received_on
        if on < start:
            raise InvalidInput(
                f"requested_on {on.isoformat()} is before {STAGE_NAMES[current.stage]} "
                f"{'was answered' if current.resolved_on else 'was received'} ({start.isoformat()})",
                "requested_on",
            )
        if current.is_open:
            if on <= current.due_on:
                raise IllegalTransition(
                    f"complaint {self.complaint_id} is still within the timescale of {STAGE_NAMES[current.stage]} "
                    f"(due {current.due_on.isoformat()}); it can go to the next stage once that stage is "
                    "answered or its timescale has passed"
                )
            current.escalated_on = on
        next_stage = STAGES[STAGES.index(current.stage) + 1]
        return [self._open_stage(next_stage, on, calendar, timescales)]

    def extend(
        self,
        *,
        on: date,
        working_days: int | None,
        reason: ExtensionReason,
        calendar: WorkingCalendar,
        timescales: ComplaintTimescales,
    ) -> Extension:
        current = self._open_stage_or_refuse("extend")
        limit = timescales[current.stage]
        if not limit.extendable:
            raise IllegalTransition(f"the timescale of {STAGE_NAMES[current.stage]} cannot be extended")
        if on < current.received_on:
            raise InvalidInput(
                f"extended_on {on.isoformat()} is before the stage was received ({current.received_on})", "extended_on"
            )
        if on > current.due_on:
            raise IllegalTransition(
                f"the timescale of {STAGE_NAMES[current.stage]} of complaint {self.complaint_id} ran out on "
                f"{current.due_on.isoformat()}; an extension must be agreed before it runs out"
            )
        target = limit.max_working_days if working_days is None else working_days
        if not current.working_days < target <= limit.max_working_days:
            raise InvalidInput(
                f"working_days must be more than the current {current.working_days} and at most "
                f"{limit.max_working_days} for {STAGE_NAMES[current.stage]}",
                "working_days",
            )
        extension = Extension(on, current.working_days, target, reason)
        current.extensions.append(extension)
        current.working_days = target
        current.due_on = calendar.add_working_days(current.received_on, target)
        return extension

    def resolve(self, *, on: date, outcome: ComplaintOutcome) -> list[Emitted]:
        current = self._open_stage_or_refuse("resolve")
        if on < current.received_on:
            raise InvalidInput(
                f"resolved_on {on.isoformat()} is before {STAGE_NAMES[current.stage]} was received "
                f"({current.received_on.isoformat()})",
                "resolved_on",
            )
        current.resolved_on, current.outcome = on, outcome
        current.within_timescale = on <= current.due_on
        event = ComplaintResolved(
            complaint_id=self.complaint_id,
            service=self.service,
            category=self.category,
            theme=self.theme,
            stage=current.stage,
            outcome=outcome,
            resolved_on=on,
            within_timescale=current.within_timescale,
        )
        return [Emitted(event, on)]

    def _open_stage_or_refuse(self, action: str) -> StageRecord:
        current = self.current
        if self.status is ComplaintStatus.WITHDRAWN:
            raise IllegalTransition(f"cannot {action} complaint {self.complaint_id}: it was withdrawn on {current.resolved_on}")
        if not current.is_open:
            raise IllegalTransition(
                f"cannot {action} complaint {self.complaint_id}: {STAGE_NAMES[current.stage]} was already "
                f"answered ({current.outcome}) on {current.resolved_on}"
            )
        return current

    def _open_stage(
        self, stage: ComplaintStage, received_on: date, calendar: WorkingCalendar, timescales: ComplaintTimescales
    ) -> Emitted:
        days = timescales[stage].working_days
        record = StageRecord(stage, received_on, days, calendar.add_working_days(received_on, days))
        self.stages.append(record)
        event = ComplaintLogged(
            complaint_id=self.complaint_id,
            case_id=self.case_id,
            service=self.service,
            category=self.category,
            theme=self.theme,
            stage=stage,
            received_on=received_on,
            due_on=record.due_on,
        )
        return Emitted(event, received_on)
