"""The reliability figures, written by the fault tests themselves into docs/reliability.md.

Each test records its figures under its own name in docs/reliability.json; the Markdown page is
rendered from that file at the end of every session, so a partial run updates only what it ran.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "docs" / "reliability.json"
PAGE = ROOT / "docs" / "reliability.md"

_recorded: dict[str, dict[str, Any]] = {}


def record(test: str, summary: str, **figures: Any) -> None:
    _recorded[test] = {"summary": summary, "figures": figures, "measured_at": datetime.now(UTC).isoformat()[:19]}


def flush() -> None:
    if not _recorded:
        return
    data = json.loads(DATA.read_text()) if DATA.exists() else {}
    data.update(_recorded)
    DATA.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
    lines = ["# Reliability", "",
             "Written by the fault tests (`make faults`; CI runs the fast subset) from what they measured; "
             "do not edit by hand. Every test runs on real Kafka and PostgreSQL.", ""]
    for test, entry in sorted(data.items()):
        lines += [f"## {test}", "", entry["summary"], "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in entry["figures"].items()]
        lines += ["", f"_measured {entry['measured_at']} UTC_", ""]
    PAGE.write_text("\n".join(lines))
