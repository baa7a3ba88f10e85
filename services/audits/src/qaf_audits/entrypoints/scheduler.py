"""What the audits service runs in the background: the shipped templates stored at start, and the overdue sweep."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from qaf_shared.clock import Clock
from qaf_shared.runtime import BackgroundTask, ServiceRuntime, periodic
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_audits import usecases
from qaf_audits.adapters.repository import Repository

log = structlog.get_logger(__name__)


def units(runtime: ServiceRuntime) -> PostgresUnitOfWork[Repository]:
    """A unit of work on the running service's pool."""
    assert runtime.pool is not None
    return PostgresUnitOfWork(runtime.pool, Repository)


async def load_packaged_templates(runtime: ServiceRuntime) -> None:
    """At start: store the shipped template versions not yet in the database."""
    try:
        added = await usecases.ensure_packaged_templates(units(runtime))
    except RuntimeError as exc:
        log.error("templates.refused", reason=str(exc))
        return
    log.info("templates.loaded", added=added)


def overdue_sweeper(clock_of: Callable[[ServiceRuntime], Clock], interval_s: float) -> BackgroundTask:
    """Every `interval_s`, flag audits overdue as of the clock's today."""

    async def sweep(runtime: ServiceRuntime) -> None:
        await usecases.sweep_overdue_today(units(runtime), clock_of(runtime))

    return periodic(sweep, interval_s, name="overdue_sweeper")
