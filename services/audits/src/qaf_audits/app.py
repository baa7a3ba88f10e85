"""Composition root of the audits service: wires settings, handlers, adapters, schedulers and CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from datetime import date
from pathlib import Path

import structlog
import yaml

from qaf_shared import topics
from qaf_shared.cli import CommandRunner, service_main
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.runtime import BackgroundTask, ServiceDefinition, ServiceRuntime, Subscription

from qaf_audits import handlers, service
from qaf_audits.adapters.clock import Clock, clock_named
from qaf_audits.adapters.http import router
from qaf_audits.domain.errors import Invalid
from qaf_audits.settings import AuditsSettings

MIGRATIONS = Path(__file__).parent / "migrations"

log = structlog.get_logger(__name__)


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    return [Subscription(consumer="audits", topics=(topics.ALLOCATIONS,), handlers=handlers.HANDLERS)]


async def load_packaged_templates(runtime: ServiceRuntime) -> None:
    """At start: store the shipped template versions not yet in the database."""
    assert runtime.pool is not None
    async with runtime.pool.acquire() as conn, conn.transaction():
        try:
            added = await service.ensure_packaged_templates(conn)
        except RuntimeError as exc:
            log.error("templates.refused", reason=str(exc))
            return
    log.info("templates.loaded", added=added)


def overdue_sweeper(clock: Clock, interval_s: float) -> BackgroundTask:
    async def overdue_sweeper(runtime: ServiceRuntime) -> None:
        """Every `interval_s`, flag audits overdue as of the clock's today."""
        assert runtime.pool is not None
        while not runtime.stopping.is_set():
            async with runtime.pool.acquire() as conn:
                as_of = await clock.today(conn)
            if as_of is not None:
                await service.sweep_overdue(runtime.pool, as_of)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(runtime.stopping.wait(), timeout=interval_s)

    return overdue_sweeper


def definition(settings: AuditsSettings | None = None, *, clock: Clock | None = None) -> ServiceDefinition:
    """The audits service. `clock` overrides `settings.clock` for the background overdue sweep."""
    settings = settings or AuditsSettings()
    return ServiceDefinition(
        name="audits",
        title="QAF audits service",
        description="Audit templates, completed audits, practice concerns, overdue audits and moderation.",
        settings=settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[router],
        background=[
            load_packaged_templates,
            overdue_sweeper(clock or clock_named(settings.clock), settings.overdue_sweep_interval_s),
        ],
    )


# --- Command line ------------------------------------------------------------------------------


async def _with_pool(definition: ServiceDefinition, work):  # type: ignore[no-untyped-def]
    settings = definition.settings
    url = await migrate_service(
        settings.database_url, definition.name, settings.db_role_password.get_secret_value(), definition.migrations_dir
    )
    pool = await connect_pool(url, definition.name)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await service.ensure_packaged_templates(conn)
        return await work(pool)
    finally:
        await pool.close()


def _sweep_overdue(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    as_of = date.fromisoformat(args.as_of)
    flagged = asyncio.run(_with_pool(definition, lambda pool: service.sweep_overdue(pool, as_of)))
    print(f"{len(flagged)} audit(s) flagged overdue as of {as_of.isoformat()}")
    for audit_id in flagged:
        print(f"  {audit_id}")
    return 0


def _load_template(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    path = Path(args.file)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    try:
        template, created = asyncio.run(
            _with_pool(definition, lambda pool: service.load_template(pool, data, loaded_by=args.principal))
        )
    except Invalid as exc:
        for error in exc.errors:
            print(f"{error.field}: {error.message}")
        return 2
    state = "loaded as" if created else "unchanged: already"
    print(f"template {template.id} {state} version {template.version}")
    return 0


def cli_extension(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    sweep = commands.add_parser(
        "sweep-overdue", help="flag audits not completed by their due date, as of a date (emits audit-overdue once)"
    )
    sweep.add_argument("--as-of", required=True, help="YYYY-MM-DD: audits due before this date are overdue")
    load = commands.add_parser("load-template", help="load a themed audit template (YAML or JSON file)")
    load.add_argument("file")
    load.add_argument("--principal", default="cli", help="opaque id recorded as who loaded it")
    return {"sweep-overdue": _sweep_overdue, "load-template": _load_template}


def main() -> int:
    return service_main(definition, extend=cli_extension)
