"""The reliability figures, written by the fault tests themselves.

Each fault test records what it measured (`record`); a fault test that fails records its failure in
the same place (`record_failure`, from the hook in tests/conftest.py), so an earlier pass never stands
for a run that failed. At the end of the session the entries are merged, by test, into a JSON file
and rendered as Markdown:
- at full size (`make faults`, QAF_FAULTS_FULL=1) into docs/reliability.json and docs/reliability.md,
  the page the project publishes;
- at CI size (`make test`) into var/reliability/, so a quick run never overwrites the full figures.
Every entry says the commit it ran on (with "+ changes" when the tree was not clean), when and at
which size.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The tests whose outcome the page reports: those `make faults` runs.
FAULT_SUITES = ("tests/faults/", "tests/security/", "tests/integration/test_poison_messages.py")

_recorded: dict[str, dict[str, Any]] = {}
_outcomes: dict[str, str] = {}


def full_size() -> bool:
    return os.environ.get("QAF_FAULTS_FULL") == "1"


def destination() -> tuple[Path, Path]:
    folder = ROOT / "docs" if full_size() else ROOT / "var" / "reliability"
    return folder / "reliability.json", folder / "reliability.md"


def _current_test() -> str:
    # pytest sets "path::name (phase)" for the test being run
    return os.environ.get("PYTEST_CURRENT_TEST", "unknown").rsplit(" ", 1)[0]


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha} + changes" if dirty else sha


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", " UTC")


def record(test: str, summary: str, **figures: Any) -> None:
    """What the running test measured, under its title."""
    _recorded[_current_test()] = {"title": test, "summary": summary, "figures": figures, "outcome": "passed"}


def is_fault_test(nodeid: str) -> bool:
    return nodeid.startswith(FAULT_SUITES)


def record_outcome(nodeid: str, outcome: str, error: str | None = None) -> None:
    """A fault test's result; a failure replaces whatever the test recorded before it failed."""
    _outcomes[nodeid] = outcome
    if outcome == "failed":
        title = _recorded.get(nodeid, {}).get("title") or nodeid.split("::")[-1].replace("_", " ")
        _recorded[nodeid] = {"title": title, "summary": "The test failed; no figure from this run stands.",
                             "figures": {"error": first_error_line(error)}, "outcome": "failed"}
    elif nodeid in _recorded:
        _recorded[nodeid]["outcome"] = outcome


def first_error_line(report: str | None) -> str:
    """What went wrong, from pytest's report: its first `E` line (the assertion's message), else its last line."""
    lines = (report or "").strip().splitlines()
    for line in lines:
        if line.startswith("E "):
            return line[1:].strip()[:300].replace("|", "/")
    return lines[-1][:300].replace("|", "/") if lines else ""


def flush() -> None:
    if not _recorded and not _outcomes:
        return
    data_file, page = destination()
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(data_file.read_text()) if data_file.exists() else {}
    data = {key: value for key, value in data.get("tests", {}).items()}
    commit, when = _commit(), _now()
    size = "full (make faults)" if full_size() else "CI (make test)"
    for nodeid, entry in _recorded.items():
        data[nodeid] = {**entry, "commit": commit, "measured_at": when, "size": size}
    run = {"commit": commit, "finished_at": when, "size": size,
           "passed": sum(1 for o in _outcomes.values() if o == "passed"),
           "failed": sum(1 for o in _outcomes.values() if o == "failed"),
           "skipped": sum(1 for o in _outcomes.values() if o == "skipped")}
    data_file.write_text(json.dumps({"last_run": run, "tests": dict(sorted(data.items()))}, indent=2) + "\n")
    page.write_text(render(run, data))


def render(run: dict[str, Any], tests: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Reliability", "",
        "Written by the fault tests from what they measured (`make faults` writes this page at full size; "
        "`make test` runs them smaller and writes `var/reliability/`); do not edit by hand. Every test runs "
        "on real Kafka and PostgreSQL; lost, doubled and dead-lettered are counted against what the test "
        "sent and the broker acknowledged, never against the system's own output.", "",
        f"**Last run:** {run['size']} on commit `{run['commit']}`, finished {run['finished_at']}: "
        f"{run['passed']} passed, {run['failed']} failed, {run['skipped']} skipped "
        "(of the fault, security and poison-message tests).", "",
    ]
    for nodeid, entry in sorted(tests.items(), key=lambda item: item[1]["title"]):
        mark = "" if entry.get("outcome", "passed") == "passed" else " — FAILED"
        lines += [f"## {entry['title']}{mark}", "", entry["summary"], "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in entry["figures"].items()]
        lines += ["", f"_`{nodeid}`, {entry['size']}, commit `{entry['commit']}`, {entry['measured_at']}_", ""]
    return "\n".join(lines)
