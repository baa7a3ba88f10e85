"""reporting's own CLI command: `replay` (rebuild every figure from offset zero; entrypoints/replay.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from qaf_shared.cli import CommandRunner
from qaf_shared.runtime import ServiceDefinition

if TYPE_CHECKING:  # replay's module is imported only when the command runs
    from qaf_reporting.entrypoints.replay import MissingOffsets

# `replay` exits with this when the input topics no longer start at offset 0 (as the CLI's other refusals)
TRUNCATED_HISTORY_EXIT = 2


def _listed(gaps: list[MissingOffsets]) -> str:
    return "".join(f"\n  {gap.describe()}" for gap in gaps)


def _replay(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    from qaf_reporting.entrypoints.replay import TruncatedHistory, replay_from_zero

    try:
        stats = asyncio.run(replay_from_zero(
            definition, publish=not args.no_publish, accept_truncated_history=args.accept_truncated_history))
    except TruncatedHistory as refused:
        print(f"error: refusing to replay: the broker no longer holds the first events of {len(refused.missing)} "
              f"input partition(s), so the rebuilt figures would silently leave them out:{_listed(refused.missing)}\n"
              "Nothing was changed. To rebuild from what is left, run again with --accept-truncated-history.",
              file=sys.stderr)
        return TRUNCATED_HISTORY_EXIT
    if stats.missing:
        print(f"warning: replayed without the first events of {len(stats.missing)} input partition(s) "
              f"(--accept-truncated-history); the figures leave them out:{_listed(stats.missing)}", file=sys.stderr)
    print(json.dumps(stats.as_dict(), indent=2))
    return 0


def extend(commands: argparse._SubParsersAction) -> dict[str, CommandRunner]:  # type: ignore[type-arg]
    replay = commands.add_parser(
        "replay",
        help="rebuild every figure from offset zero into an empty schema (stop the service first)",
        description="Empties the reporting tables, reads the consumed topics from offset zero up to their "
        "current end in batches, applies every event exactly once, commits the consumer group's offsets "
        "there (so `serve` resumes after the replay), then publishes, coalesced, the figures that differ "
        "from those last published (none after a faithful replay). It refuses (exit code 2, nothing changed) "
        "when an input partition no longer starts at offset 0, unless --accept-truncated-history is given.",
    )
    replay.add_argument("--no-publish", action="store_true", help="do not publish now: the service publishes the rebuilt figures when it next starts")
    replay.add_argument(
        "--accept-truncated-history", action="store_true",
        help="replay even when an input partition no longer starts at offset 0 (the broker deleted its first "
        "events); without it such a replay is refused, exit code 2, and nothing is changed",
    )
    return {"replay": _replay}
