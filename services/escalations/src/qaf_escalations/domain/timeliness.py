"""Timeliness of the complaints desk and of escalations: per stage and service, how many were
answered within timescale.

Complaints: 
"Answered" counts every resolution of a stage (the `complaint-resolved` events, withdrawals
included); "within timescale" those answered on or before their due date, extensions counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

from qaf_shared.vocabulary import ComplaintOutcome, ComplaintStage, EscalationStage, Service

from qaf_escalations.domain.complaints import StageRecord
from qaf_escalations.domain.escalations import Step


class _WithinTimescale:
    """What both timeliness rows report: the share of answered stages answered in time."""

    answered: int
    answered_within_timescale: int

    @property
    def percent_within_timescale(self) -> float | None:
        return round(100 * self.answered_within_timescale / self.answered, 1) if self.answered else None

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"percent_within_timescale": self.percent_within_timescale}  # type: ignore[call-overload]


@dataclass
class TimelinessRow(_WithinTimescale):
    stage: ComplaintStage
    service: Service
    received: int = 0
    answered: int = 0
    answered_within_timescale: int = 0
    answered_late: int = 0
    withdrawn: int = 0
    extended: int = 0
    escalated_unanswered: int = 0
    open: int = 0
    open_overdue: int = 0


def timeliness(records: Iterable[tuple[Service, StageRecord]], as_of: date) -> list[TimelinessRow]:
    """Rows by stage then service, for the stage records given (e.g. received in a period)."""
    rows: dict[tuple[ComplaintStage, Service], TimelinessRow] = {}
    for service, record in records:
        row = rows.setdefault((record.stage, service), TimelinessRow(record.stage, service))
        row.received += 1
        if record.extensions:
            row.extended += 1
        if record.resolved_on is not None:
            row.answered += 1
            if record.within_timescale:
                row.answered_within_timescale += 1
            else:
                row.answered_late += 1
            if record.outcome is ComplaintOutcome.WITHDRAWN:
                row.withdrawn += 1
        elif record.escalated_on is not None:
            row.escalated_unanswered += 1
        else:
            row.open += 1
            if as_of > record.due_on:
                row.open_overdue += 1
    order = {stage: i for i, stage in enumerate(ComplaintStage)}
    services = {service: i for i, service in enumerate(Service)}
    return sorted(rows.values(), key=lambda r: (order[r.stage], services[r.service]))


@dataclass
class EscalationTimelinessRow(_WithinTimescale):
    """Per escalation stage and service: how many stages were answered (left by progression,
    resolution or withdrawal) within their timescale, and how many were reported overdue."""

    stage: EscalationStage
    service: Service
    started: int = 0
    answered: int = 0
    answered_within_timescale: int = 0
    answered_late: int = 0
    reported_overdue: int = 0
    open: int = 0
    open_overdue: int = 0


def escalation_timeliness(
    steps: Iterable[tuple[Service, Step, bool]], as_of: date
) -> list[EscalationTimelinessRow]:
    """`steps`: each stage an escalation went through, with its service and whether it was reported overdue."""
    rows: dict[tuple[EscalationStage, Service], EscalationTimelinessRow] = {}
    for service, step, reported in steps:
        row = rows.setdefault((step.stage, service), EscalationTimelinessRow(step.stage, service))
        row.started += 1
        row.reported_overdue += int(reported)
        if step.ended_on is not None:
            row.answered += 1
            if step.ended_on <= step.due_on:
                row.answered_within_timescale += 1
            else:
                row.answered_late += 1
        else:
            row.open += 1
            if as_of > step.due_on:
                row.open_overdue += 1
    order = {stage: i for i, stage in enumerate(EscalationStage)}
    services = {service: i for i, service in enumerate(Service)}
    return sorted(rows.values(), key=lambda r: (order[r.stage], services[r.service]))
