"""The audits service's own commands, beside the shared `serve`, `migrate` and `tokens`."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import yaml

from qaf_shared.cli import CommandRunner
from qaf_shared.errors import Invalid
from qaf_shared.runtime import ServiceDefinition, migrated_pool
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_audits import usecases
from qaf_audits.adapters.repository import Repository

T = TypeVar("T")


async def _with_templates(definition: ServiceDefinition, work: Callable[[usecases.Audits], Awaitable[T]]) -> T:
    """Run `work` on the migrated database, with the shipped templates stored first."""
    async with migrated_pool(definition) as pool:
        await usecases.ensure_packaged_templates(PostgresUnitOfWork(pool, Repository))
        return await work(PostgresUnitOfWork(pool, Repository))


def _sweep_overdue(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    as_of = date.fromisoformat(args.as_of)
    flagged = asyncio.run(_with_templates(definition, lambda uow: usecases.sweep_overdue(uow, as_of)))
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
            _with_templates(definition, lambda uow: usecases.load_template(uow, data, loaded_by=args.principal))
        )
    except Invalid as exc:
        for error in exc.errors:
            print(f"{error.field}: {error.message}")
        return 2
    state = "loaded as" if created else "unchanged: already"
    print(f"template {template.id} {state} version {template.version}")
    return 0


def extend(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    sweep = commands.add_parser(
        "sweep-overdue", help="flag audits not completed by their due date, as of a date (emits audit-overdue once)"
    )
    sweep.add_argument("--as-of", required=True, help="YYYY-MM-DD: audits due before this date are overdue")
    load = commands.add_parser("load-template", help="load a themed audit template (YAML or JSON file)")
    load.add_argument("file")
    load.add_argument("--principal", default="cli", help="opaque id recorded as who loaded it")
    return {"sweep-overdue": _sweep_overdue, "load-template": _load_template}
