"""Open caseload, the denominator of 'per 100 open cases', kept as two monthly counters.

Each case counts once in `case-opened` at the month it opened and, once closed, once in `case-closed`
at the month it closed, both under the service that holds it now. The cases open at any time during a
window [A, B] are then `opened up to B - closed before A`, from counters alone.

Simplifications, on purpose: a transfer (case-updated to another service) moves the case's whole
history to its new service; a case re-opened after closing counts as open from its first opening; a
case we only know as closed (its opening not yet seen) counts nowhere until its opening arrives.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from qaf_reporting.domain.effects import CASE_CLOSED, CASE_OPENED, CaseChange, Count


@dataclass(frozen=True)
class CaseState:
    case_id: str
    service: str | None = None
    opened_month: int | None = None
    closed_month: int | None = None


def counts_of(state: CaseState | None) -> Counter[tuple[str, str, int]]:
    """The counters a case contributes in this state: (kind, service, month) -> 1."""
    held: Counter[tuple[str, str, int]] = Counter()
    if state is None or state.service is None or state.opened_month is None:
        return held
    held[(CASE_OPENED, state.service, state.opened_month)] += 1
    if state.closed_month is not None:
        # a closing dated before the opening closes the case in its opening month
        held[(CASE_CLOSED, state.service, max(state.closed_month, state.opened_month))] += 1
    return held


def apply_change(state: CaseState | None, change: CaseChange) -> CaseState:
    state = state or CaseState(change.case_id)
    if change.change == "opened":
        opened = state.opened_month if state.opened_month is not None else change.month
        closed = state.closed_month
        if closed is not None and change.month is not None and change.month > closed:
            closed = None  # re-opened after closing: open again, from its first opening
        return replace(state, service=change.service, opened_month=opened, closed_month=closed)
    if change.change == "updated":
        return replace(state, service=change.service)
    if change.change == "closed":
        return replace(state, closed_month=change.month)
    raise ValueError(f"unknown case change {change.change!r}")


def delta(before: CaseState | None, after: CaseState) -> list[Count]:
    """What to add to the counters to go from `before` to `after` (entries may be negative)."""
    diff = counts_of(after)
    diff.subtract(counts_of(before))
    return [Count(kind, service, month, n=n) for (kind, service, month), n in sorted(diff.items()) if n]
