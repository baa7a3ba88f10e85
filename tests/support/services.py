"""Run a service in-process against the real broker and database, with an HTTP client on its app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from asgi_lifespan import LifespanManager

from qaf_shared.http import TokenStore
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime


@dataclass
class RunningService:
    runtime: ServiceRuntime
    http: httpx.AsyncClient

    async def token(self, principal: str, role: str) -> dict[str, str]:
        assert self.runtime.pool is not None
        _, token = await TokenStore(self.runtime.pool).create(principal, role)
        return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running(definition: ServiceDefinition) -> AsyncIterator[RunningService]:
    runtime = ServiceRuntime(definition)
    app = runtime.http_app()
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield RunningService(runtime, client)
