"""Reallocation: an auditor who becomes unavailable hands their open audits on, under the same rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from qaf_shared.months import Month

from qaf_allocation.domain.draw import EXPLANATION_LIMIT, rank
from qaf_allocation.domain.model import Auditor, Case, leads_by_service


@dataclass(frozen=True, slots=True)
class HeldAudit:
    """An open (not completed, not withdrawn) allocation, with the case as it stands now."""

    audit_id: str
    case: Case
    month: str
    due_on: date
    auditor_id: str
    lead_auditor_id: str


@dataclass(frozen=True, slots=True)
class Move:
    audit_id: str
    case: Case
    month: str
    due_on: date
    previous_auditor_id: str
    auditor_id: str
    lead_auditor_id: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Stuck:
    audit_id: str
    auditor_id: str
    reason: str


def reallocate(
    held: Iterable[HeldAudit],
    leaving: Auditor,
    roster: Iterable[Auditor],
    *,
    effective_on: date,
    month_loads: Mapping[str, Mapping[str, int]],
    prior_load: Mapping[str, int] | None = None,
    seed: int = 0,
) -> tuple[list[Move], list[Stuck]]:
    """Move `leaving`'s open audits that fall due while they are unavailable.

    An audit is affected when `leaving` cannot work between `effective_on` (or the start of its
    month, if later) and its due date. It goes to the least loaded auditor of its month who is
    available over that period, neither holds nor manages the case, and has capacity left.
    """
    prior_load = prior_load or {}
    roster = sorted(roster, key=lambda a: a.auditor_id)
    leads = leads_by_service(roster)
    loads = {month: dict(counts) for month, counts in month_loads.items()}
    moves: list[Move] = []
    stuck: list[Stuck] = []
    for audit in sorted(held, key=lambda h: (h.due_on, h.audit_id)):
        if audit.auditor_id != leaving.auditor_id or audit.due_on < effective_on:
            continue
        start = max(effective_on, Month.parse(audit.month).first_day())
        why = leaving.unavailable_because(start, audit.due_on)
        if why is None:
            continue
        month_load = loads.setdefault(audit.month, {})
        candidates = [
            a for a in roster
            if a.auditor_id != leaving.auditor_id
            and a.unavailable_because(start, audit.due_on) is None
            and a.conflict_with(audit.case) is None
            and month_load.get(a.auditor_id, 0) < a.capacity
        ]
        if not candidates:
            stuck.append(Stuck(audit.audit_id, leaving.auditor_id,
                               f"{leaving.auditor_id} {why}; no auditor available from {start} to {audit.due_on} "
                               f"who may audit case {audit.case.case_id} has capacity left in {audit.month}"))
            continue
        chosen = min(candidates, key=lambda a: (month_load.get(a.auditor_id, 0), prior_load.get(a.auditor_id, 0),
                                                rank(seed, "auditor", a.auditor_id)))
        month_load[chosen.auditor_id] = month_load.get(chosen.auditor_id, 0) + 1
        month_load[leaving.auditor_id] = max(0, month_load.get(leaving.auditor_id, 0) - 1)
        lead = leads.get(audit.case.service)
        lead_id = lead.auditor_id if lead is not None else audit.lead_auditor_id
        explanation = (
            f"{leaving.auditor_id} {why}, unavailable from {start} to {audit.due_on}; moved to {chosen.auditor_id}: "
            f"available to {audit.due_on}, {month_load[chosen.auditor_id]} of capacity {chosen.capacity} in "
            f"{audit.month}, least loaded of {len(candidates)} auditors who may audit it; neither its worker nor "
            f"its team manager, manages no team holding it ({audit.case.team_id}). Lead auditor {lead_id}."
        )
        if len(explanation) > EXPLANATION_LIMIT:
            explanation = explanation[: EXPLANATION_LIMIT - 1] + "…"
        moves.append(Move(audit.audit_id, audit.case, audit.month, audit.due_on, leaving.auditor_id,
                          chosen.auditor_id, lead_id, explanation))
    return moves, stuck
