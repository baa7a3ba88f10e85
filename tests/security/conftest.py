"""The whole platform served over real HTTP (uvicorn on free ports, in the test's event loop), on the
real broker and a fresh database, with a token of every role for every service."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
import pytest_asyncio
import uvicorn

from qaf_devstack.ephemeral import free_port_block
from qaf_shared.http import TokenStore
from qaf_shared.http.auth import ROLES
from qaf_shared.runtime import ServiceRuntime
from qaf_shared.settings import KafkaSettings
from tests.conftest import _with_database
from tests.integration.test_poison_messages import service_definition

SERVICES = ("allocation", "audits", "escalations", "reporting", "actions")

# The opaque principal each role's token stands for. A case system's principal is its service code.
PRINCIPALS = {
    "qa-admin": "QA-1", "auditor": "AUD-1", "lead-auditor": "LEAD-1", "cpa": "CPA-1", "iro": "IRO-1",
    "complaints": "DESK-1", "case-system": "first-response", "reporting": "BI-1", "action-owner": "OWNER-1",
    "board": "BOARD-1",
}
assert set(PRINCIPALS) == ROLES


@dataclass
class Served:
    name: str
    runtime: ServiceRuntime
    url: str
    tokens: dict[str, str] = field(default_factory=dict)  # role → bearer token
    secrets: list[str] = field(default_factory=list)  # every token made, for the log scan

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def token(self, principal: str, role: str) -> dict[str, str]:
        _, token = await TokenStore(self.runtime.pool).create(principal, role)
        self.secrets.append(token)
        return {"Authorization": f"Bearer {token}"}


@dataclass
class Platform:
    services: dict[str, Served]
    kafka: KafkaSettings
    database_url: str


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def platform(pg_admin_url: str, kafka_bootstrap: str) -> AsyncIterator[Platform]:
    name = "sec_" + uuid.uuid4().hex[:10]
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = _with_database(pg_admin_url, name)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix="s" + uuid.uuid4().hex[:10] + ".")
    served: dict[str, Served] = {}
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    try:
        for service in SERVICES:
            runtime = ServiceRuntime(service_definition(service, database_url, kafka))
            port = free_port_block(1)
            server = uvicorn.Server(uvicorn.Config(runtime.http_app(), host="127.0.0.1", port=port, log_config=None,
                                                   access_log=False, lifespan="on"))
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  (older uvicorn)
            task = asyncio.create_task(server.serve())
            servers.append((server, task))
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError(f"{service} stopped while starting")
                await asyncio.sleep(0.05)
            entry = Served(service, runtime, f"http://127.0.0.1:{port}")
            for role, principal in PRINCIPALS.items():
                _, token = await TokenStore(runtime.pool).create(principal, role)
                entry.tokens[role] = token
                entry.secrets.append(token)
            served[service] = entry
        yield Platform(served, kafka, database_url)
    finally:
        for server, _ in reversed(servers):
            server.should_exit = True
        for _, task in reversed(servers):
            try:
                await asyncio.wait_for(task, timeout=60)
            except Exception:
                task.cancel()
        admin = await asyncpg.connect(pg_admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def full() -> bool:
    import os

    return os.environ.get("QAF_FAULTS_FULL") == "1"
