"""The background schedule: every poll, drift at the clock's date and each Board digest that fell due."""

from __future__ import annotations

from qaf_shared.runtime import BackgroundTask, ServiceRuntime, periodic
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_actions import usecases
from qaf_actions.adapters.repository import Repository
from qaf_actions.usecases import Context


def digest_schedule(ctx: Context) -> BackgroundTask:
    async def look_at_the_schedule(runtime: ServiceRuntime) -> None:
        await usecases.run_schedule(PostgresUnitOfWork(runtime.pool, Repository), ctx)

    return periodic(look_at_the_schedule, ctx.settings.schedule_poll_s, name="digest_schedule")
