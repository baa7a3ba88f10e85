"""The monthly schedule: a background loop that draws the month on its first working day.

Its clock is injected (the real date by default); `scheduler_enabled=False` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from qaf_shared.runtime import ServiceRuntime

from qaf_allocation import application as app
from qaf_allocation.adapters import postgres as repo
from qaf_allocation.domain.schedule import run_due

log = structlog.get_logger(__name__)


def monthly_scheduler(ctx: app.Context) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def allocation_scheduler(runtime: ServiceRuntime) -> None:
        if not ctx.settings.scheduler_enabled:
            log.info("allocation.scheduler_disabled")
            return
        while not runtime.stopping.is_set():
            await tick(runtime, ctx)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(runtime.stopping.wait(), timeout=ctx.settings.scheduler_interval_s)

    return allocation_scheduler


async def tick(runtime: ServiceRuntime, ctx: app.Context) -> str | None:
    """Draw the current month if its run is due. Returns the draw id when it drew one."""
    assert runtime.pool is not None
    async with runtime.pool.acquire() as conn:
        due = run_due(ctx.clock(), await repo.drawn_months(conn))
        if due is None:
            return None
        month, as_of = due
        outcome = await app.run_month(conn, ctx, app.RunRequest(
            month=month, as_of=as_of, requested_by="scheduler", trigger="scheduler"))
        log.info("allocation.scheduled_run", month=month, draw_id=outcome.draw_id, created=outcome.created)
        return outcome.draw_id
