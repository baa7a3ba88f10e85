"""Rolling theme figures, published by reporting for the actions service and outside subscribers."""

from typing import Annotated, Literal

from pydantic import Field

from qaf_shared.envelope import Month, OpaqueId, Payload
from qaf_shared.topics import THEMES
from qaf_shared.vocabulary import Service, Theme

ALL_SERVICES = "all"


class ThemeUpdated(Payload, event_type="theme-updated", topic=THEMES, key_field="theme"):
    """One figure changed: `count` over `denominator` for a theme, a scope and a rolling window.

    `measure` says what is counted (e.g. `audit-theme`, `indicator-yes`, `escalation`, `complaint`),
    `question_id` names the indicator question where the measure is about one. A subscriber builds its
    own view by keeping the latest message per (theme, measure, question_id, service, window_months,
    period_end).
    """

    theme: Theme
    measure: OpaqueId
    question_id: OpaqueId | None = None
    service: Service | Literal["all"]
    window_months: Literal[1, 3, 6, 12]
    period_end: Month
    count: Annotated[int, Field(ge=0)]
    denominator: Annotated[int, Field(ge=0)]
    denominator_kind: Literal["audits", "open-cases", "answers", "none"]
    rate: float | None = Field(description="count per 100 of the denominator; null when it is 0")
    previous_count: Annotated[int, Field(ge=0)] | None = None
    previous_rate: float | None = None
    delta: float | None = None
