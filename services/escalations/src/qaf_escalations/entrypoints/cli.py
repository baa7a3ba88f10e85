"""The service's own CLI command: `qaf-escalations sweep-overdue --as-of YYYY-MM-DD` (the events go
out with the service's outbox relay)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

from qaf_shared.cli import CommandRunner
from qaf_shared.errors import DomainError, Invalid
from qaf_shared.runtime import ServiceDefinition, migrated_pool
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_escalations import usecases
from qaf_escalations.adapters.repository import Repository
from qaf_escalations.settings import EscalationsSettings


async def _sweep(definition: ServiceDefinition, as_of: date) -> list[usecases.OverdueReported]:
    settings = definition.settings
    assert isinstance(settings, EscalationsSettings)
    async with migrated_pool(definition) as pool:
        return await usecases.sweep_overdue(
            PostgresUnitOfWork(pool, Repository), usecases.Context.from_settings(settings), as_of
        )


def _reason(refusal: DomainError) -> str:
    """What was refused, without the field names an HTTP body carries separately."""
    if isinstance(refusal, Invalid):
        return "; ".join(error.message for error in refusal.errors)
    return refusal.message


def run_sweep(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    try:
        reported = asyncio.run(_sweep(definition, args.as_of))
    except DomainError as exc:
        raise ValueError(_reason(exc)) from None
    for item in reported:
        print(f"{item.escalation_id}  {item.stage:<16} due {item.due_on.isoformat()}  overdue")
    print(f"{len(reported)} stage(s) reported overdue as of {args.as_of.isoformat()}")
    return 0


def extend(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    sweep = commands.add_parser(
        "sweep-overdue", help="report escalations whose stage's due date passed unanswered, as of a date"
    )
    sweep.add_argument("--as-of", required=True, type=date.fromisoformat, help="event date, YYYY-MM-DD")
    return {"sweep-overdue": run_sweep}
