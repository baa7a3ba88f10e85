"""The service's own commands: `qaf-actions digest --as-of 2013-11-14 [--force] [--no-send]`, `qaf-actions status`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from qaf_shared.runtime import ServiceDefinition, migrated_pool
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_actions import usecases
from qaf_actions.adapters.repository import Repository
from qaf_actions.usecases import Context
from qaf_actions.views import StatusView

Command = Callable[[ServiceDefinition, argparse.Namespace], int]


def extend(commands: argparse._SubParsersAction) -> dict[str, Command]:  # type: ignore[type-arg]
    digest = commands.add_parser("digest", help="produce the Board digest as of a date (sent once per period)")
    digest.add_argument("--as-of", type=date.fromisoformat, required=True, help="YYYY-MM-DD (event time)")
    digest.add_argument("--period", help="YYYY-MM of the Board (default: the next Board on or after --as-of)")
    digest.add_argument("--force", action="store_true", help="issue and send again even if already issued")
    digest.add_argument("--no-send", action="store_true", help="store and announce, but do not email")
    digest.add_argument("--pdf", help="also write the PDF to this file")
    status = commands.add_parser("status", help="print each area's drift status as of a date (JSON)")
    status.add_argument("--as-of", type=date.fromisoformat, required=True)

    return {"digest": lambda defn, args: asyncio.run(_digest(defn, _context(defn), args)),
            "status": lambda defn, args: asyncio.run(_status(defn, _context(defn), args))}


def _context(defn: ServiceDefinition) -> Context:
    return defn.context  # type: ignore[attr-defined,no-any-return]  # an ActionsDefinition (app.py)


async def _digest(defn: ServiceDefinition, ctx: Context, args: argparse.Namespace) -> int:
    async with migrated_pool(defn) as pool:
        uow = PostgresUnitOfWork(pool, Repository)
        outcome = await usecases.issue_digest(uow, ctx, as_of=args.as_of, period=args.period, force=args.force,
                                              send=not args.no_send)
        if args.pdf:
            document = await usecases.digest_document(uow, outcome.digest_id)
            Path(args.pdf).write_bytes(bytes(document["pdf"]))
    state = "issued" if outcome.issued else "already issued (use --force to issue again)"
    print(f"{outcome.digest_id} for {outcome.period}: {state}; sent: {outcome.sent}")
    return 0


async def _status(defn: ServiceDefinition, ctx: Context, args: argparse.Namespace) -> int:
    async with migrated_pool(defn) as pool:
        evaluation = await usecases.drift_status(PostgresUnitOfWork(pool, Repository), ctx, args.as_of)
    json.dump(StatusView.of(evaluation).model_dump(mode="json"), sys.stdout, indent=2)
    print()
    return 0
