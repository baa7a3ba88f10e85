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
