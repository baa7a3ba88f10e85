"""The action plan as data: areas of risk/concern, proposed actions with their dates, indicators.

Pure: models, validation and the reading of the report's dates ("from December 12", "June 13",
"Feb – July 13", "2013-14"). Loading the packaged YAML file is a pure parse of its text.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from qaf_shared.envelope import OPAQUE_ID_PATTERN
from qaf_shared.months import Month
from qaf_shared.contracts.reporting import Measure
from qaf_shared.vocabulary import ACTION_PLAN_THEMES, Service, Theme

Id = Annotated[str, StringConstraints(pattern=OPAQUE_ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9


class PlanDateError(ValueError):
    pass


def _year(text: str) -> int:
    return int(text) if len(text) == 4 else 2000 + int(text)


def _month(text: str) -> int:
    try:
        return MONTHS[text.lower()]
    except KeyError:
        raise PlanDateError(f"{text!r} is not a month") from None


def _last_day(year: int, month: int) -> date:
    return Month.of(date(year, month, 1)).last_day()


def parse_plan_date(text: str | None) -> tuple[date | None, date | None]:
    """What a date written in the plan means: (starts_on, due_on).

    - "from December 12": an ongoing action under way from 1 December 2012 (no end date);
    - "June 13", "April 2013": due by the end of that month;
    - "Feb – July 13": runs from the start of February to the end of July 2013;
    - "2013-14": the financial year, 1 April 2013 to 31 March 2014;
    - nothing written: no date.
    """
    if text is None or not text.strip():
        return None, None
    s = " ".join(text.replace("–", "-").replace("—", "-").split())
    if m := re.fullmatch(r"(\d{4})\s*-\s*(\d{2})", s):
        start_year = int(m.group(1))
        if (start_year + 1) % 100 != int(m.group(2)):
            raise PlanDateError(f"{text!r} is not a financial year (e.g. 2013-14)")
        return date(start_year, 4, 1), date(start_year + 1, 3, 31)
    if m := re.fullmatch(r"from\s+([A-Za-z]+)\.?\s+(\d{4}|\d{2})", s, flags=re.IGNORECASE):
        return date(_year(m.group(2)), _month(m.group(1)), 1), None
    if m := re.fullmatch(r"([A-Za-z]+)\.?\s*-\s*([A-Za-z]+)\.?\s+(\d{4}|\d{2})", s):
        year = _year(m.group(3))
        first, last = _month(m.group(1)), _month(m.group(2))
        start_year = year if first <= last else year - 1
        return date(start_year, first, 1), _last_day(year, last)
    if m := re.fullmatch(r"([A-Za-z]+)\.?\s+(\d{4}|\d{2})", s):
        return None, _last_day(_year(m.group(2)), _month(m.group(1)))
    raise PlanDateError(
        f"cannot read the date {text!r}: write e.g. 'from December 12', 'June 13', 'Feb – July 13' or '2013-14'"
    )


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProposedAction(Model):
    action_id: Id
    text: Text
    date_as_written: Annotated[str, StringConstraints(max_length=100)] | None = None
    starts_on: date | None = None
    due_on: date | None = None
    owner_as_named: Annotated[str, StringConstraints(max_length=200)] | None = None
    owner_id: Id = "dmg"

    @model_validator(mode="before")
    @classmethod
    def _parse_dates(cls, data: Any) -> Any:
        """Dates not given are read from the date as written; given ones must agree with it."""
        if isinstance(data, dict) and data.get("date_as_written"):
            starts, due = parse_plan_date(data["date_as_written"])
            data = dict(data)
            if "starts_on" not in data and "due_on" not in data:
                data["starts_on"], data["due_on"] = starts, due
        return data

    @model_validator(mode="after")
    def _ordered(self) -> ProposedAction:
        if self.starts_on and self.due_on and self.due_on < self.starts_on:
            raise ValueError("due_on must not be before starts_on")
        return self


class FigureSpec(Model):
    """Which theme-updated figure an indicator watches (always the 'all services' figure unless set)."""

    theme: Theme
    measure: Measure
    question_id: Id | None = None
    category: Id | None = None
    service: Service | Literal["all"] = "all"

    @model_validator(mode="after")
    def _question(self) -> FigureSpec:
        if self.measure == "indicator-yes" and not self.question_id:
            raise ValueError("an indicator-yes figure needs its question_id")
        return self


class Baseline(Model):
    value: float | None = None
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")] | None = None

    @model_validator(mode="after")
    def _some(self) -> Baseline:
        if self.value is None and self.period is None:
            raise ValueError("a baseline needs a value or a period (or both: the value stands in when the period has no figures)")
        if self.period is not None:
            baseline_period(self.period, 3)
        return self


def baseline_period(label: str, window_months: int) -> tuple[str, int]:
    """(period_end, window_months) of a baseline period: '2012-13' is the financial year to March 2013
    (a 12-month window); 'YYYY-MM' is the indicator's own window ending in that month."""
    first, second = int(label[:4]), int(label[5:])
    if second == (first + 1) % 100:
        return f"{first + 1:04d}-03", 12
    if 1 <= second <= 12:
        return label, window_months
    raise ValueError(f"baseline period {label!r} must be a financial year like 2012-13 or a month like 2013-04")


class Indicator(Model):
    indicator_id: Id
    description: Text
    figure: FigureSpec
    kind: Literal["proportion", "monthly-count"] = Field(
        description="proportion: count/denominator as a %; monthly-count: count per month of the window"
    )
    direction: Literal["increase", "decrease"]
    window_months: Literal[1, 3, 6, 12] = 3
    baseline: Baseline
    target: float | None = None
    tolerance: float = Field(default=0.0, ge=0)
    grace_months: int = Field(default=3, ge=0, le=36)
    min_sample: int = Field(default=20, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)

    @model_validator(mode="after")
    def _proportions(self) -> Indicator:
        if self.kind == "proportion":
            for name, v in (("baseline.value", self.baseline.value), ("target", self.target)):
                if v is not None and not 0 <= v <= 100:
                    raise ValueError(f"{name} of a proportion is a percentage between 0 and 100")
        return self


class Area(Model):
    area_id: Theme
    area_of_concern: Text
    proposed_action_as_written: Text
    actions: Annotated[list[ProposedAction], Field(min_length=1)]
    expected_outcome: Text
    indicators: list[Indicator] = []

    @model_validator(mode="after")
    def _check(self) -> Area:
        if self.area_id not in ACTION_PLAN_THEMES:
            raise ValueError(f"area_id {self.area_id.value!r} is not one of the eleven action plan themes")
        for label, ids in (
            ("action_id", [a.action_id for a in self.actions]),
            ("indicator_id", [i.indicator_id for i in self.indicators]),
        ):
            if len(ids) != len(set(ids)):
                raise ValueError(f"{label}s must be unique within the area")
        return self

    def starts_on(self, plan_starts_on: date) -> date:
        """When the area's work started: its earliest action date (start, else due), else the plan's start."""
        dates = [a.starts_on or a.due_on for a in self.actions if (a.starts_on or a.due_on)]
        return min(dates) if dates else plan_starts_on

    def action(self, action_id: str) -> ProposedAction | None:
        return next((a for a in self.actions if a.action_id == action_id), None)


class ActionPlan(Model):
    plan_version: int = Field(default=1, ge=1)
    title: Text
    source: Text
    plan_starts_on: date = Field(
        default=date(2013, 4, 1), description="When the plan's year starts: the grace period of an area "
        "whose actions carry no date runs from here."
    )
    areas: list[Area]

    @model_validator(mode="after")
    def _eleven(self) -> ActionPlan:
        ids = [a.area_id for a in self.areas]
        if len(ids) != len(set(ids)):
            raise ValueError("each area appears once")
        missing = ACTION_PLAN_THEMES - set(ids)
        if missing:
            raise ValueError(f"the plan must cover all eleven areas; missing: {sorted(m.value for m in missing)}")
        return self

    def area(self, area_id: str) -> Area | None:
        return next((a for a in self.areas if a.area_id == area_id), None)

    def with_area(self, area: Area) -> ActionPlan:
        areas = [area if a.area_id == area.area_id else a for a in self.areas]
        return self.model_copy(update={"areas": areas})

    def figures_watched(self) -> list[FigureSpec]:
        return [i.figure for a in self.areas for i in a.indicators]


def load_plan(text: str) -> ActionPlan:
    return ActionPlan.model_validate(yaml.safe_load(text))
