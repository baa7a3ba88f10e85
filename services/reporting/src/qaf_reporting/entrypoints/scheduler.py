"""Background loop: the coalesced theme-updated publication (the flusher is adapters/publisher.py).

Not `qaf_shared.runtime.periodic`: besides its interval, this loop wakes as soon as this instance's
consumer has applied a batch, so an event's figures go out without waiting for the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
from weakref import WeakKeyDictionary

import asyncpg
import structlog

from qaf_shared.runtime import ServiceRuntime

from qaf_reporting.adapters.publisher import FigurePublisher
from qaf_reporting.settings import ReportingSettings

log = structlog.get_logger(__name__)

# One per running service: the consumer sets it after each batch it applied, the publisher wakes on it.
_figures_changed: WeakKeyDictionary[ServiceRuntime, asyncio.Event] = WeakKeyDictionary()


def figures_changed(runtime: ServiceRuntime) -> asyncio.Event:
    return _figures_changed.setdefault(runtime, asyncio.Event())


async def publish_figures(runtime: ServiceRuntime) -> None:
    """Flush changed figures every `flush_interval_ms`, and soon after the consumer applied a batch."""
    assert runtime.pool is not None
    settings = runtime.settings
    if not isinstance(settings, ReportingSettings):
        settings = ReportingSettings()
    await flush_continually(
        FigurePublisher(runtime.pool), runtime.stopping, settings.flush_interval_ms / 1000,
        wake=figures_changed(runtime), min_gap_s=settings.flush_min_gap_ms / 1000,
    )


async def flush_continually(
    publisher: FigurePublisher, stopping: asyncio.Event, interval_s: float, *, wake: asyncio.Event | None = None,
    min_gap_s: float = 0.0,
) -> None:
    """Flush every `interval_s` (from the start of one flush to the next) and whenever `wake` is set.

    `wake` is set by this instance's consumer after each batch it applied; a flush starts no sooner
    than `min_gap_s` after the previous one started, and a wake during a flush (cells it may not have
    read) brings another. The interval still bounds the wait for cells marked by another instance.
    """
    wake = wake or asyncio.Event()
    loop = asyncio.get_running_loop()
    while not stopping.is_set():  # when the service stops, it cancels this loop while it waits
        started = loop.time()
        wake.clear()
        try:
            await publisher.flush_once()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
            log.warning("reporting.flush_interrupted", error=type(exc).__name__)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=max(0.0, started + interval_s - loop.time()))
        gap = started + min_gap_s - loop.time()
        if gap > 0:
            await asyncio.sleep(gap)
