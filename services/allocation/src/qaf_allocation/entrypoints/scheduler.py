"""The monthly schedule: a background task that draws the month on its first working day.

It reads "today" from the context's clock (the wall clock by default); `scheduler_enabled=False` turns it off.
"""

from __future__ import annotations

import structlog

from qaf_shared.runtime import BackgroundTask, ServiceRuntime, periodic
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_allocation import usecases
from qaf_allocation.adapters.repository import Repository

log = structlog.get_logger(__name__)


def monthly_scheduler(ctx: usecases.Context) -> BackgroundTask:
    async def allocation_scheduler(runtime: ServiceRuntime) -> None:
        await usecases.scheduled_run(PostgresUnitOfWork(runtime.pool, Repository), ctx)

    if not ctx.settings.scheduler_enabled:
        return _disabled
    return periodic(allocation_scheduler, ctx.settings.scheduler_interval_s, name="allocation_scheduler")


async def _disabled(runtime: ServiceRuntime) -> None:
    log.info("allocation.scheduler_disabled")
