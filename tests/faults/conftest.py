from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from qaf_devstack.ephemeral import free_port_block
from qaf_devstack.paths import VAR
from qaf_devstack.postgres import EmbeddedPostgres


@pytest.fixture
def full() -> bool:
    """`make faults` sets QAF_FAULTS_FULL=1 for the issue's full sizes; CI runs smaller ones."""
    return os.environ.get("QAF_FAULTS_FULL") == "1"


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, so stopping or reconfiguring it disturbs no other test."""
    server = EmbeddedPostgres(port=free_port_block(1), root=VAR / "test" / f"pg-fault-{uuid.uuid4().hex[:6]}")
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.destroy)
