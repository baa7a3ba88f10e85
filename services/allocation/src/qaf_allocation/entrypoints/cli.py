"""Command-line subcommands of qaf-allocation: run a month, show it, import the roster, the target.

They work straight on the service's schema (migrating it first); events they cause wait in the
outbox until a running `qaf-allocation serve` relays them.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError

from qaf_shared.cli import CommandRunner
from qaf_shared.envelope import is_opaque_id
from qaf_shared.runtime import ServiceDefinition, migrated_pool
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_allocation import usecases
from qaf_allocation.adapters.repository import Repository
from qaf_allocation.entrypoints.http import AuditorIn
from qaf_allocation.settings import AllocationSettings
from qaf_allocation.views import AuditorView, MonthView, TargetView


def extend(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    run = commands.add_parser("run", help="draw a month's audit sample (once; --redraw to supersede it)")
    run.add_argument("--month", required=True, help="YYYY-MM")
    run.add_argument("--as-of", required=True, type=date.fromisoformat, help="YYYY-MM-DD, within the month")
    run.add_argument("--seed", type=int, help="replay a draw with this seed (recorded either way)")
    run.add_argument("--redraw", action="store_true", help="supersede the month's existing draw")
    run.add_argument("--requested-by", default="cli", help="opaque id of who asked (default: cli)")

    show = commands.add_parser("show", help="print a month's allocations with their explanations (JSON)")
    show.add_argument("--month", required=True, help="YYYY-MM")

    target = commands.add_parser("target", help="print the yearly target report (JSON)")
    target.add_argument("--year", required=True, type=int, help="the year the target year starts in")

    roster = commands.add_parser("roster", help="import or list the auditor roster")
    roster_commands = roster.add_subparsers(dest="roster_command", required=True)
    load = roster_commands.add_parser(
        "import", help="add or replace auditors from a JSON list or a CSV file (columns: auditor_id, service, "
        "manages_teams (;-separated), is_lead, capacity, absences (;-separated FROM..TO), active)")
    load.add_argument("file", type=Path)
    load.add_argument("--as-of", type=date.fromisoformat, help="when the changes take effect")
    roster_commands.add_parser("list", help="print the roster (JSON)")

    return {"run": _sync(_run), "show": _sync(_show), "target": _sync(_target), "roster": _sync(_roster)}


Command = Callable[[asyncpg.Pool, usecases.Context, argparse.Namespace], Awaitable[int]]


def _sync(command: Command) -> CommandRunner:
    def runner(definition: ServiceDefinition, args: argparse.Namespace) -> int:
        return asyncio.run(_with_pool(definition, args, command))
    return runner


async def _with_pool(definition: ServiceDefinition, args: argparse.Namespace, command: Command) -> int:
    settings = definition.settings
    assert isinstance(settings, AllocationSettings)
    async with migrated_pool(definition) as pool:
        return await command(pool, usecases.Context(settings), args)


def _unit(pool: asyncpg.Pool) -> PostgresUnitOfWork[Repository]:
    return PostgresUnitOfWork(pool, Repository)


def _print(view: BaseModel | Sequence[BaseModel]) -> None:
    data = view.model_dump(mode="json") if isinstance(view, BaseModel) else [v.model_dump(mode="json") for v in view]
    print(json.dumps(data, indent=2))


async def _run(pool: asyncpg.Pool, ctx: usecases.Context, args: argparse.Namespace) -> int:
    if not is_opaque_id(args.requested_by):
        raise ValueError("--requested-by must be an opaque id")
    outcome = await usecases.run_month(_unit(pool), ctx, usecases.RunRequest(
        month=args.month, as_of=args.as_of, requested_by=args.requested_by, trigger="cli", seed=args.seed,
        redraw=args.redraw))
    view = MonthView.of(await usecases.drawn_month(_unit(pool), args.month))
    verb = "drew" if outcome.created else "already drawn:"
    print(f"{verb} {view.draw_id} (seed {view.seed}): {view.allocated} of {view.requested} allocated")
    for item in view.shortfall:
        print(f"  shortfall [{item.code}] {item.message}")
    return 0


async def _show(pool: asyncpg.Pool, ctx: usecases.Context, args: argparse.Namespace) -> int:
    _print(MonthView.of(await usecases.drawn_month(_unit(pool), args.month)))
    return 0


async def _target(pool: asyncpg.Pool, ctx: usecases.Context, args: argparse.Namespace) -> int:
    _print(TargetView.of(await usecases.target(_unit(pool), ctx, args.year)))
    return 0


async def _roster(pool: asyncpg.Pool, ctx: usecases.Context, args: argparse.Namespace) -> int:
    if args.roster_command == "list":
        _print([AuditorView.of(a) for a in await usecases.roster(_unit(pool))])
        return 0
    entries = read_roster_file(args.file)
    auditors = [entry.to_domain(auditor_id) for auditor_id, entry in entries]
    for outcome in await usecases.import_roster(_unit(pool), ctx, auditors, args.as_of):  # all or nothing
        moved = f", {len(outcome.moves)} audits reallocated" if outcome.moves else ""
        print(f"{'added' if outcome.created else 'updated'} {outcome.auditor.auditor_id}{moved}")
        for stuck in outcome.stuck:
            print(f"  not reallocated {stuck.audit_id}: {stuck.reason}", file=sys.stderr)
    return 0


def read_roster_file(path: Path) -> list[tuple[str, AuditorIn]]:
    """Parse a roster file (JSON list of objects, or CSV). Raises ValueError naming the entry and field."""
    text = path.read_text()
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a JSON list of auditors")
    else:
        rows = [_csv_row(r) for r in csv.DictReader(text.splitlines())]
    out = []
    for number, row in enumerate(rows, start=1):
        row = dict(row)
        auditor_id = str(row.pop("auditor_id", ""))
        if not is_opaque_id(auditor_id):
            raise ValueError(f"{path} entry {number}: auditor_id {auditor_id!r} must be an opaque id")
        try:
            out.append((auditor_id, AuditorIn.model_validate(row)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{path} entry {number} ({auditor_id}): {where}: {first['msg']}") from None
    return out


def _csv_row(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
    out["manages_teams"] = [t.strip() for t in out.get("manages_teams", "").split(";") if t.strip()]
    out["absences"] = [
        {"starts_on": a.split("..")[0].strip(), "ends_on": a.split("..")[-1].strip()}
        for a in out.get("absences", "").split(";") if a.strip()
    ]
    for flag in ("is_lead", "active"):
        if out.get(flag, "") == "":
            out.pop(flag, None)
        else:
            out[flag] = out[flag].lower() in ("1", "true", "yes", "y")
    if out.get("capacity", "") == "":
        out.pop("capacity", None)
    return out
