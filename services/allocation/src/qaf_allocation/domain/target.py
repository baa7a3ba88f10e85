"""The yearly target: allocations and completions for the year against 450-500 audits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    def status(self) -> str:
        """Where completions stand against the target: below, within or above it."""
        done = self.completed_total
        if done < self.target_min:
            return "below"
        return "within" if done <= self.target_max else "above"

    def as_dict(self) -> dict[str, object]:
        return {
            "year": self.year,
            "first_month": self.first_month,
            "last_month": self.last_month,
            "target": {"min": self.target_min, "max": self.target_max},
            "months_drawn": self.months_drawn,
            "allocated": self.allocated_total,
            "completed": self.completed_total,
            "remaining_to_min": max(0, self.target_min - self.completed_total),
            "status": self.status,
            "by_service": [
                {"service": s.value, "label": s.label, "allocated": self.allocated.get(s, 0),
                 "completed": self.completed.get(s, 0)}
                for s in Service
            ],
        }


def yearly_target(
    year: str, first_month: str, last_month: str, *, target_min: int, target_max: int,
    allocated: Mapping[Service, int], completed: Mapping[Service, int], months_drawn: int,
) -> YearlyTarget:
    return YearlyTarget(year, first_month, last_month, target_min, target_max,
                        dict(allocated), dict(completed), months_drawn)
