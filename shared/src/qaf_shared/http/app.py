"""The FastAPI app every service serves: /health, /ready, /metrics, plus the service's routers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qaf_shared.errors import install_error_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_http_app(
    *,
    title: str,
    description: str,
    routers: list[APIRouter],
    lifespan: Lifespan | None,
    readiness: Callable[[], Any],
    retrying: Callable[[], list[dict[str, Any]]] = list,
    version: str = "0.1.0",
) -> FastAPI:
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="Readiness: Kafka and PostgreSQL are reachable; lists partitions held at a record being retried",
    )
    async def ready() -> Response:
        checks: dict[str, str] = await readiness()
        ok = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not-ready", "checks": checks}
        # A held partition does not make the service unready (its HTTP API still serves): it is reported.
        body["retrying"] = retrying()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app


