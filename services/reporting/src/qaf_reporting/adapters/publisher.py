"""The theme-updated flusher: recomputes the figures of dirty cells and publishes those that moved.

Coalescing: the consumer only marks cells dirty (in the transaction that changes their counters); a
flush (every `flush_interval_ms`, run by entrypoints/scheduler.py) takes the dirty cells, recomputes the
figures they touch from the counters as they are *now*, and enqueues one theme-updated message per
figure whose value differs from the last one published — so a burst of a thousand events on one figure
(a replay) gives one message carrying the final value, not a thousand. Nothing is lost: a cell stays
dirty until the transaction that publishes its figures (outbox rows and the published values) commits,
so a crash only delays the message; the cells are read without locks and deleted at the end of that
transaction only if nobody marked them again meanwhile (same row version), so the consumer is never held
up for a whole flush and a change that raced with the computation is published by the next one. One
flusher works at a time (a transaction-scoped advisory lock).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import asyncpg
import structlog

from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.kafka.outbox import CHANNEL_PREFIX

from qaf_reporting.adapters.repository import Repository
from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import (
    KINDS_OF_FAMILY,
    MEASURES_OF_FAMILY,
    OPEN_CASE_FAMILIES,
    family_figures,
    open_cases,
    window_sums,
)
from qaf_reporting.domain.windows import window_start
from qaf_reporting.domain.publishing import changed, targets

log = structlog.get_logger(__name__)

SOURCE = "reporting"
_LOCK_KEY = "reporting:theme-updated-flusher"


class FigurePublisher:
    def __init__(self, pool: asyncpg.Pool, *, max_cells: int = 2000) -> None:
        self.pool = pool
        self.max_cells = max_cells

    async def flush_once(self) -> int | None:
        """One pass. Returns the number of messages enqueued, or None when nothing was dirty."""
        async with self.pool.acquire() as conn, conn.transaction():
            repository = Repository(conn)
            if not await repository.take_flusher_lock(_LOCK_KEY):
                return 0
            cells = await repository.read_dirty(self.max_cells)
            if not cells:
                return None
            event_months = [c["month"] for c in cells if c["family"] != k.CASES_FAMILY]
            if event_months:
                latest = await repository.advance_watermark(max(event_months))
            else:
                latest = await repository.latest_month()
            if latest is None:
                await repository.clear_dirty(cells)
                return 0  # only case events so far: nothing to publish yet
            occurred_at = max(c["last_event_at"] for c in cells)
            grouped: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
            for family, scope, window, period_end in targets(
                ((c["family"], c["service"], c["month"]) for c in cells), latest
            ):
                grouped[(family, scope)].append((window, period_end))
            # Three reads for the whole flush, whatever the number of (family, scope) groups: the monthly
            # sums of every group, the case series (for open-case denominators), the values last published.
            groups = sorted(grouped.items())
            for _, wanted in groups:
                wanted.sort()
            monthly_of = await repository.monthly_sums_many([
                (scope, KINDS_OF_FAMILY[family], min(window_start(pe, w) for w, pe in wanted),
                 max(pe for _, pe in wanted))
                for (family, scope), wanted in groups
            ])
            case_series = (
                await repository.case_series_all() if any(f in OPEN_CASE_FAMILIES for (f, _), _ in groups) else {}
            )
            before = await repository.published_many((
                (scope, measure, window, period_end)
                for (family, scope), wanted in groups
                for measure in MEASURES_OF_FAMILY[family]
                for window, period_end in wanted
            ))
            envelopes: list[Envelope[Any]] = []
            rows: list[tuple[Any, ...]] = []
            for ((family, scope), wanted), monthly in zip(groups, monthly_of, strict=True):
                await asyncio.sleep(0)  # let the consumer and the relay in between groups: no long stall
                figures = []
                for window, period_end in wanted:
                    first = window_start(period_end, window)
                    sums = window_sums(monthly, first, period_end)
                    cases = (
                        open_cases(*case_series.get(scope, ({}, {})), first, period_end)
                        if family in OPEN_CASE_FAMILIES else 0
                    )
                    figures.extend(family_figures(family, scope, window, period_end, sums, cases))
                for figure, message in changed(figures, before):
                    envelopes.append(new_envelope(message, source=SOURCE, occurred_at=occurred_at))
                    rows.append((*figure.key[:4], figure.service, figure.window_months, figure.period_end,
                                 figure.count, figure.denominator, figure.rate))
            # One statement, last: the consumer never waits on a cell for a whole flush.
            await repository.publish(rows, [
                (e.event_id, e.topic.name, e.payload.partition_key(), e.event_type, e.to_bytes()) for e in envelopes
            ], cells, CHANNEL_PREFIX)
            log.debug("reporting.figures_flushed", cells=len(cells), published=len(envelopes))
            return len(envelopes)

    async def flush_all(self) -> int:
        """Flush until nothing is dirty. Returns the number of messages enqueued."""
        total = 0
        while (published := await self.flush_once()) is not None:
            total += published
        return total
