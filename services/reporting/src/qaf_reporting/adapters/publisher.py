"""The theme-updated flusher: recomputes the figures of dirty cells and publishes those that moved.

Coalescing: the consumer only marks cells dirty (in the transaction that changes their counters);
this loop wakes every `flush_interval_ms`, takes the dirty cells, recomputes the figures they touch
from the counters as they are *now*, and enqueues one theme-updated message per figure whose value
differs from the last one published — so a burst of a thousand events on one figure (a replay) gives
one message carrying the final value, not a thousand. Nothing is lost: a cell stays dirty until the
transaction that publishes its figures (outbox rows and the published values) commits, so a crash
only delays the message; the cells are read without locks and deleted at the end of that transaction
only if nobody marked them again meanwhile (same row version), so the consumer is never held up for a
whole flush and a change that raced with the computation is published by the next one. One flusher
works at a time (a transaction-scoped advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

import asyncpg
import structlog

from qaf_shared.envelope import Envelope, new_envelope
from qaf_shared.kafka.outbox import CHANNEL_PREFIX

from qaf_reporting.adapters import repository as repo
from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import (
    KINDS_OF_FAMILY,
    MEASURES_OF_FAMILY,
    OPEN_CASE_FAMILIES,
    family_figures,
    open_cases,
    window_sums,
)
from qaf_reporting.domain.months import window_start
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
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", _LOCK_KEY):
                return 0
            cells = await repo.read_dirty(conn, self.max_cells)
            if not cells:
                return None
            event_months = [c["month"] for c in cells if c["family"] != k.CASES_FAMILY]
            if event_months:
                latest = await repo.advance_watermark(conn, max(event_months))
            else:
                latest = await repo.latest_month(conn)
            if latest is None:
                await repo.clear_dirty(conn, cells)
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
            monthly_of = await repo.monthly_sums_many(conn, [
                (scope, KINDS_OF_FAMILY[family], min(window_start(pe, w) for w, pe in wanted),
                 max(pe for _, pe in wanted))
                for (family, scope), wanted in groups
            ])
            case_series = (
                await repo.case_series_all(conn) if any(f in OPEN_CASE_FAMILIES for (f, _), _ in groups) else {}
            )
            before = await repo.published_many(conn, (
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
            await repo.publish(conn, rows, [
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

    async def run(
        self, stopping: asyncio.Event, interval_s: float, *, wake: asyncio.Event | None = None, min_gap_s: float = 0.0
    ) -> None:
        """Flush every `interval_s` (from the start of one flush to the next) and whenever `wake` is set.

        `wake` is set by this instance's consumer after each batch it applied, so an event's figures go
        out without waiting for the next round; a flush starts no sooner than `min_gap_s` after the
        previous one started, and a wake during a flush (cells it may not have read) brings another.
        The interval still bounds the wait for cells marked by another instance.
        """
        wake = wake or asyncio.Event()
        loop = asyncio.get_running_loop()
        while not stopping.is_set():  # when the service stops, it cancels this loop while it waits
            started = loop.time()
            wake.clear()
            try:
                await self.flush_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                log.warning("reporting.flush_interrupted", error=type(exc).__name__)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=max(0.0, started + interval_s - loop.time()))
            gap = started + min_gap_s - loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
