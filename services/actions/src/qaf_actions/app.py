"""Composition root of the actions service: wires settings, clock, handlers, routes and the scheduler."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from qaf_shared import topics
from qaf_shared.cli import service_main
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription

from qaf_actions import handlers
from qaf_actions.adapters.http import build_router, evaluation_json
from qaf_actions.clock import Clock, FixedClock
from qaf_actions.services import Context, evaluate_as_of
from qaf_actions.settings import ActionsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class ActionsDefinition(ServiceDefinition):
    context: Context | None = None


def subscriptions(runtime: ServiceRuntime) -> list[Subscription]:
    ctx: Context = runtime.definition.context  # type: ignore[attr-defined]
    drift = handlers.DriftConsumer(ctx)
    return [
        Subscription(
            consumer="actions",
            topics=(topics.THEMES, topics.ACTIONS),
            handlers=drift.handlers(),
            batch_handler=drift.apply_batch,
        ),
        Subscription(
            consumer="digest",
            topics=(topics.AUDITS, topics.ESCALATIONS, topics.COMPLAINTS, topics.ALLOCATIONS),
            handlers=handlers.LEDGER_HANDLERS,
        ),
    ]


async def digest_scheduler(runtime: ServiceRuntime) -> None:
    """Every poll: drift at the clock's date, and each Board digest that fell due, issued once."""
    from qaf_actions.digest import run_schedule_once

    ctx: Context = runtime.definition.context  # type: ignore[attr-defined]
    if not ctx.settings.schedule_enabled:
        return
    while not runtime.stopping.is_set():
        assert runtime.pool is not None
        await run_schedule_once(runtime.pool, ctx)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(runtime.stopping.wait(), timeout=ctx.settings.schedule_poll_s)


def definition(settings: ActionsSettings | None = None, clock: Clock | None = None) -> ActionsDefinition:
    settings = settings or ActionsSettings()
    return ActionsDefinition(
        name="actions",
        title="QAF actions service",
        description="The 2013-14 action plan, drift against expected outcomes and the Board's alert digest.",
        settings=settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[build_router()],
        background=[digest_scheduler],
        context=Context.from_settings(settings, clock),
    )


# -- command line: `qaf-actions digest --as-of 2013-11-14 [--force] [--no-send]`, `qaf-actions status` --


async def _with_pool(defn: ServiceDefinition):  # type: ignore[no-untyped-def]
    s = defn.settings
    url = await migrate_service(s.database_url, defn.name, s.db_role_password.get_secret_value(), defn.migrations_dir)
    return await connect_pool(url, defn.name)


def _digest_command(defn: ServiceDefinition, args: argparse.Namespace) -> int:
    from qaf_actions.digest import issue_digest

    async def run() -> int:
        pool = await _with_pool(defn)
        try:
            ctx: Context = defn.context  # type: ignore[attr-defined]
            outcome = await issue_digest(pool, ctx, as_of=args.as_of, period=args.period, force=args.force,
                                         send=not args.no_send)
            if args.pdf:
                async with pool.acquire() as conn:
                    pdf = await conn.fetchval("SELECT pdf FROM digests WHERE digest_id = $1", outcome.digest_id)
                Path(args.pdf).write_bytes(bytes(pdf))
            state = "issued" if outcome.issued else "already issued (use --force to issue again)"
            print(f"{outcome.digest_id} for {outcome.period}: {state}; sent: {outcome.sent}")
            return 0
        finally:
            await pool.close()

    return asyncio.run(run())


def _status_command(defn: ServiceDefinition, args: argparse.Namespace) -> int:
    async def run() -> int:
        pool = await _with_pool(defn)
        try:
            ctx: Context = defn.context  # type: ignore[attr-defined]
            async with pool.acquire() as conn:
                evaluation = await evaluate_as_of(conn, ctx, args.as_of)
            json.dump(evaluation_json(evaluation), sys.stdout, indent=2)
            print()
            return 0
        finally:
            await pool.close()

    return asyncio.run(run())


def extend(commands: argparse._SubParsersAction) -> dict:  # type: ignore[type-arg]
    digest = commands.add_parser("digest", help="produce the Board digest as of a date (sent once per period)")
    digest.add_argument("--as-of", type=date.fromisoformat, required=True, help="YYYY-MM-DD (event time)")
    digest.add_argument("--period", help="YYYY-MM of the Board (default: the next Board on or after --as-of)")
    digest.add_argument("--force", action="store_true", help="issue and send again even if already issued")
    digest.add_argument("--no-send", action="store_true", help="store and announce, but do not email")
    digest.add_argument("--pdf", help="also write the PDF to this file")
    status = commands.add_parser("status", help="print each area's drift status as of a date (JSON)")
    status.add_argument("--as-of", type=date.fromisoformat, required=True)
    return {"digest": _digest_command, "status": _status_command}


def main() -> int:
    return service_main(definition, extend=extend)


__all__ = ["FixedClock", "definition", "main"]
