"""The yearly target: allocations and completions for the year against 450-500 audits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qaf_shared.months import Month
from qaf_shared.vocabulary import Service


@dataclass(frozen=True)
class YearlyTarget:
    year: str
    first_month: str
    last_month: str
    target_min: int
    target_max: int
    allocated: dict[Service, int]
    completed: dict[Service, int]
    months_drawn: int

    @property
    def allocated_total(self) -> int:
        return sum(self.allocated.values())

    @property
    def completed_total(self) -> int:
        return sum(self.completed.values())

    @property
    def remaining_to_min(self) -> int:
        return max(0, self.target_min - self.completed_total)

    @property
    def status(self) -> str:
        """Where completions stand against the target: below, within or above it."""
        done = self.completed_total
        if done < self.target_min:
            return "below"
        return "within" if done <= self.target_max else "above"


def yearly_target(
    year: str, first_month: str, last_month: str, *, target_min: int, target_max: int,
    allocated: Mapping[Service, int], completed: Mapping[Service, int], months_drawn: int,
) -> YearlyTarget:
    return YearlyTarget(year, first_month, last_month, target_min, target_max,
                        dict(allocated), dict(completed), months_drawn)


def financial_year(year: int, start_month: int) -> tuple[str, str, str]:
    """(label, first month, last month) of the year starting in `start_month` of `year`."""
    first = Month(year * 12 + start_month - 1)
    label = str(year) if start_month == 1 else f"{year}-{(year + 1) % 100:02d}"
    return label, first.label, first.shift(11).label


def year_of(month: str, start_month: int) -> tuple[str, str, str]:
    """The target year `month` ("YYYY-MM") falls in, as `financial_year` gives it."""
    parsed = Month.parse(month)
    return financial_year(parsed.year if parsed.number >= start_month else parsed.year - 1, start_month)
