"""A minimal service built only from the shared plumbing, for the foundation's contract tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Request

from qaf_shared import topics
from qaf_shared.envelope import Envelope
from qaf_shared.http import Principal, intake_router, require_role
from qaf_shared.kafka import PermanentFailure
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription
from qaf_shared.settings import KafkaSettings, ServiceSettings

MIGRATIONS = Path(__file__).parent / "probe_migrations"


async def record(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    key = event.payload.partition_key()
    if key.startswith("REFUSE"):
        raise PermanentFailure(f"case {key} is refused by a rule it can never pass")
    await conn.execute(
        "INSERT INTO seen (event_id, event_type, key) VALUES ($1, $2, $3)", event.event_id, event.event_type, key
    )
    await conn.execute(
        "INSERT INTO applications (key, times) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET times = applications.times + 1",
        key,
    )


router = APIRouter()


@router.get("/probe/seen")
async def seen(request: Request, principal: Principal = Depends(require_role("qa-admin"))) -> dict[str, Any]:
    count = await request.app.state.pool.fetchval("SELECT count(*) FROM seen")
    return {"seen": count, "principal": principal.principal}


def subscriptions(_: ServiceRuntime) -> list[Subscription]:
    return [
        Subscription(
            consumer="probe",
            topics=(topics.CASES,),
            handlers={"case-opened": record, "case-updated": record, "case-closed": record},
        )
    ]


def probe_definition(database_url: str, kafka: KafkaSettings) -> ServiceDefinition:
    settings = ServiceSettings(
        service_name="probe", database_url=database_url, kafka=kafka, consumer_retry_backoff_s=0.2
    )
    return ServiceDefinition(
        name="probe",
        title="probe",
        description="test-only service",
        settings=settings,
        migrations_dir=MIGRATIONS,
        subscriptions=subscriptions,
        routers=[router, intake_router(["case-opened", "case-updated", "case-closed"])],
    )


def main() -> None:
    """Run the probe as its own process: `python -m tests.support.probe DATABASE_URL BOOTSTRAP PREFIX [CRASH_KEY]`.

    With CRASH_KEY, the process SIGKILLs itself right after the transaction applying the event
    keyed CRASH_KEY has committed, and before its offset is committed.
    """
    import asyncio
    import os
    import signal

    from qaf_shared.kafka import consumer as consumer_module
    from qaf_shared.logging import configure_logging

    database_url, bootstrap, prefix = sys.argv[1:4]
    crash_key = sys.argv[4].encode() if len(sys.argv) > 4 else None
    if crash_key:
        original = consumer_module.EventConsumer._apply_together

        async def apply_then_crash(self: Any, items: Any) -> Any:
            result = await original(self, items)  # the transaction has committed here
            if any(item.record.key == crash_key for item in items):
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        consumer_module.EventConsumer._apply_together = apply_then_crash  # type: ignore[method-assign]

    configure_logging("probe", "INFO")
    definition = probe_definition(database_url, KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix))

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        runtime = ServiceRuntime(definition)
        await runtime.start()
        print("PROBE READY", flush=True)
        await stop.wait()
        await runtime.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()
