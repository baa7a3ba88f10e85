"""Rolling theme figures, published by reporting for the actions service and outside subscribers."""

from typing import Annotated, Literal

from pydantic import Field

from qaf_shared.envelope import Month, OpaqueId, Payload
from qaf_shared.topics import THEMES
from qaf_shared.vocabulary import Service, Theme

ALL_SERVICES = "all"

Measure = Literal[
    "audit-theme",  # audits that found the theme; denominator: audits completed
    "indicator-yes",  # 'yes' answers to an indicator question; denominator: yes + no answers
    "escalation",  # escalations raised, by reason's theme; denominator: open cases
    "complaint",  # complaints logged, by category's theme; denominator: open cases
    "practice-concern",  # practice concerns raised; denominator: audits completed
    "audit-overdue",  # audits gone overdue; denominator: audits allocated
    "complaint-in-time",  # complaints resolved within timescale; denominator: complaints resolved
    "escalation-in-time",  # escalations resolved within timescale; denominator: escalations resolved
]


class ThemeUpdated(Payload, event_type="theme-updated", topic=THEMES, key_field="theme"):
    """One figure changed: `count` over `denominator` for a theme, a scope and a rolling window.

    `measure` says what is counted; `question_id` names the indicator question for `indicator-yes`;
    `category` narrows a complaint or escalation measure to one complaint category or escalation reason
    (null: all of them). A subscriber builds its own view by keeping the latest message per
    (theme, measure, question_id, category, service, window_months, period_end).

    Figures are bucketed by calendar month of event time (the date in the source event's payload), so
    a late event changes the figures of its own month and of the later windows that hold it. The window
    of `window_months` months ends at `period_end`, both included; `service` is one service or "all".
    `rate` is `count` per 100 of `denominator`, to two decimals (null when the denominator is 0).
    A message is sent only when a figure's count, denominator or rate differs from the last value sent
    for the same key: `previous_count` / `previous_rate` are that last value (null the first time) and
    `delta` is `rate - previous_rate` in points (null when either is null). Bursts are coalesced (one
    message per figure per short interval, carrying the latest value), and a replay that rebuilds the
    same figures sends nothing. Figures are sent for period ends up to the latest month in which an
    event has been seen. Messages are keyed by theme, so one theme's figures stay in order.
    """

    theme: Theme
    measure: Measure
    question_id: OpaqueId | None = None
    category: OpaqueId | None = None
    service: Service | Literal["all"]
    window_months: Literal[1, 3, 6, 12]
    period_end: Month
    count: Annotated[int, Field(ge=0)]
    denominator: Annotated[int, Field(ge=0)]
    denominator_kind: Literal["audits", "allocated-audits", "open-cases", "answers", "resolved", "none"]
    rate: float | None = Field(description="count per 100 of the denominator; null when it is 0")
    previous_count: Annotated[int, Field(ge=0)] | None = None
    previous_rate: float | None = None
    delta: float | None = None
