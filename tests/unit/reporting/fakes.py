"""An in-memory stand-in for reporting's Repository: the monthly counters as a plain table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence

from qaf_reporting.domain.effects import CASE_CLOSED, CASE_OPENED, Effects

Row = tuple[str, str, int, str, str, str]  # kind, service, month, theme, k1, k2
Key = tuple[str, str, str, str]  # kind, theme, k1, k2


class FakeRepository:
    """Holds counters as the database does; reads add them up as Repository's queries do."""

    def __init__(self, counts: Mapping[Row, int] | None = None, watermark: int | None = None) -> None:
        self.counts: dict[Row, int] = dict(counts or {})
        self.watermark = watermark
        self.applied: list[Sequence[Effects]] = []
        self.reset_for: list[str] = []

    async def apply(self, batch: Sequence[Effects]) -> int:
        self.applied.append(batch)
        return sum(len(group.counts) for effects in batch for group in effects.groups)

    async def reset_state(self, consumer: str) -> None:
        self.reset_for.append(consumer)
        self.counts.clear()
        self.watermark = None

    async def latest_month(self) -> int | None:
        return self.watermark

    async def latest_month_with(self, kind: str) -> int | None:
        return max((row[2] for row in self.counts if row[0] == kind), default=None)

    def _rows(self, kinds: Collection[str], scope: str, start: int, end: int) -> Iterable[tuple[Row, int]]:
        for row, n in self.counts.items():
            kind, service, month = row[:3]
            if kind in kinds and start <= month <= end and scope in ("all", service):
                yield row, n

    async def sums(self, kinds: Iterable[str], scope: str, start: int, end: int) -> dict[Key, int]:
        out: dict[Key, int] = defaultdict(int)
        for (kind, _, _, theme, k1, k2), n in self._rows(set(kinds), scope, start, end):
            out[(kind, theme, k1, k2)] += n
        return dict(out)

    async def sums_by_service(self, kinds: Iterable[str], start: int, end: int) -> dict[str, dict[Key, int]]:
        out: dict[str, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
        for (kind, service, _, theme, k1, k2), n in self._rows(set(kinds), "all", start, end):
            out[service][(kind, theme, k1, k2)] += n
        return {service: dict(sums) for service, sums in out.items()}

    async def case_series(self, scope: str) -> tuple[dict[int, int], dict[int, int]]:
        opened: dict[int, int] = defaultdict(int)
        closed: dict[int, int] = defaultdict(int)
        for (kind, _, month, _, _, _), n in self._rows({CASE_OPENED, CASE_CLOSED}, scope, 0, 10**6):
            (opened if kind == CASE_OPENED else closed)[month] += n
        return dict(opened), dict(closed)

    async def monthly_sums_reading(
        self, reads: Mapping[str, Collection[str]], scope: str, start: int, end: int
    ) -> dict[int, dict[Key, int]]:
        out: dict[int, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
        for (kind, _, month, theme, k1, k2), n in self._rows(set(reads), scope, start, end):
            kept = reads[kind]
            key = (kind, theme if "theme" in kept else "", k1 if "k1" in kept else "", k2 if "k2" in kept else "")
            out[month][key] += n
        return {month: dict(sums) for month, sums in out.items()}
