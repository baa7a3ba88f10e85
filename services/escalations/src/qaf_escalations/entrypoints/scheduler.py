"""The background overdue sweep: every few seconds, report overdue stages as of the sweep's date.

Restart-safe: what was reported is recorded with the event in one transaction, so a restarted
service carries on without reporting any stage twice."""

from __future__ import annotations

from qaf_shared.runtime import BackgroundTask, ServiceRuntime, periodic
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_escalations import usecases
from qaf_escalations.adapters.repository import Repository
from qaf_escalations.settings import EscalationsSettings


def overdue_sweeper(ctx: usecases.Context, settings: EscalationsSettings) -> BackgroundTask:
    async def sweep_overdue_escalations(runtime: ServiceRuntime) -> None:
        uow = PostgresUnitOfWork(runtime.pool, Repository)
        as_of = await usecases.sweep_as_of(uow, ctx, settings.overdue_sweep_basis)
        if as_of is not None:
            await usecases.sweep_overdue(uow, ctx, as_of)

    return periodic(sweep_overdue_escalations, settings.overdue_sweep_interval_s)
