"""The FastAPI app every service serves: /health, /ready, /metrics, plus the service's routers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qaf_shared.errors import install_error_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class Health(BaseModel):
    status: Literal["ok"]


class HeldRecord(BaseModel):
    """A record a consumer holds its partition at while it retries it."""

    consumer: str
    topic: str
    partition: int
    offset: int
    kind: Literal["transient", "unexpected", "permanent"]
    attempts: int
    error: str
    since: str


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    checks: dict[str, str] = Field(description="`ok` or `down`, for postgres and kafka")
    retrying: list[HeldRecord]


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
    async def health() -> Health:
        return Health(status="ok")

    @app.get(
        "/ready",
        tags=["operations"],
        summary="Readiness: Kafka and PostgreSQL are reachable; lists partitions held at a record being retried",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "PostgreSQL or Kafka is not reachable"}},
    )
    async def ready() -> Response:
        checks: dict[str, str] = await readiness()
        ok = all(value == "ok" for value in checks.values())
        # A held partition does not make the service unready (its HTTP API still serves): it is reported.
        body = Readiness(status="ready" if ok else "not-ready", checks=checks, retrying=retrying())
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app


