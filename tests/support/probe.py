"""A minimal service built only from the shared plumbing, for the foundation's contract tests."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Request

from qaf_shared import topics
from qaf_shared.contracts import CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.envelope import Envelope
from qaf_shared.http import Principal, intake_router, require_role
from qaf_shared.kafka import AfterCommit, EventHandler, PermanentFailure
from qaf_shared.runtime import ServiceDefinition, ServiceRuntime, Subscription
from qaf_shared.settings import KafkaSettings, ServiceSettings

MIGRATIONS = Path(__file__).parent / "probe_migrations"


class ProbeBug(Exception):
    """What a bug in a handler looks like to the consumer: an error it does not know."""


def recorder(instance: str) -> EventHandler:
    """The probe's handler: notes each application of an event, and by which instance.

    Keys choose a failure: REFUSE… breaks a rule for good; BUG… always raises an unknown error;
    FLAKY<n>-… raises one the first n times it is tried (in this process).
    """
    tries: Counter[str] = Counter()

    async def record(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
        key = event.payload.partition_key()
        if key.startswith("REFUSE"):
            raise PermanentFailure(f"case {key} is refused by a rule it can never pass")
        if key.startswith("BUG"):
            raise ProbeBug(f"the handler cannot cope with {key}")
        if key.startswith("FLAKY"):
            tries[key] += 1
            if tries[key] <= int(key[len("FLAKY"):].split("-")[0]):
                raise ProbeBug(f"try {tries[key]} of {key} fails")
        await conn.execute(
            "INSERT INTO seen (event_id, event_type, key, instance) VALUES ($1, $2, $3, $4)",
            event.event_id, event.event_type, key, instance,
        )
        await conn.execute(
            "INSERT INTO applications (key, times) VALUES ($1, 1) "
            "ON CONFLICT (key) DO UPDATE SET times = applications.times + 1",
            key,
        )

    return record


record = recorder("in-process")

# Switches the consumer's deduplication off from inside the database, leaving its code as it is: each
# insert into processed_events first removes the row an earlier delivery left, so every delivery is
# "fresh". Used to show that the fault tests see a double application when there is one.
FORGET_PROCESSED_EVENTS = """
CREATE OR REPLACE FUNCTION forget_processed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM processed_events WHERE consumer = NEW.consumer AND event_id = NEW.event_id;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER forget_processed BEFORE INSERT ON processed_events
    FOR EACH ROW EXECUTE FUNCTION forget_processed();
"""


router = APIRouter()


@router.get("/probe/seen")
async def seen(request: Request, principal: Principal = Depends(require_role("qa-admin"))) -> dict[str, Any]:
    count = await request.app.state.pool.fetchval("SELECT count(*) FROM seen")
    return {"seen": count, "principal": principal.principal}


def probe_definition(
    database_url: str,
    kafka: KafkaSettings,
    *,
    instance: str = "in-process",
    after_commit: AfterCommit | None = None,
    **settings_overrides: Any,
) -> ServiceDefinition:
    settings = ServiceSettings(
        service_name="probe", database_url=database_url, kafka=kafka,
        **{"consumer_retry_backoff_s": 0.2, **settings_overrides},
    )
    handler = recorder(instance)

    def subscriptions(_: ServiceRuntime) -> list[Subscription]:
        return [
            Subscription(
                consumer="probe",
                topics=(topics.CASES,),
                handlers={CaseOpened: handler, CaseUpdated: handler, CaseClosed: handler},
                after_commit=after_commit,
            )
        ]

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
    keyed CRASH_KEY has committed, and before its offset is committed. The environment names the
    instance (QAF_PROBE_INSTANCE) and can switch deduplication off (QAF_PROBE_NO_DEDUP=1).
    """
    import asyncio
    import os
    import signal

    from qaf_shared.db import connect_pool, migrate_service
    from qaf_shared.logging import configure_logging

    database_url, bootstrap, prefix = sys.argv[1:4]
    crash_key = sys.argv[4].encode() if len(sys.argv) > 4 else None

    def crash_after(records: Any) -> None:
        if any(record.key == crash_key for record in records):
            os.kill(os.getpid(), signal.SIGKILL)  # the transaction has committed, the offset not

    configure_logging("probe", "INFO")
    definition = probe_definition(
        database_url,
        KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix),
        instance=os.environ.get("QAF_PROBE_INSTANCE", "probe"),
        after_commit=crash_after if crash_key else None,
    )

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        if os.environ.get("QAF_PROBE_NO_DEDUP") == "1":
            url = await migrate_service(database_url, "probe", "qaf-dev-password", MIGRATIONS)
            pool = await connect_pool(url, "probe")
            await pool.execute(FORGET_PROCESSED_EVENTS)
            await pool.close()
        runtime = ServiceRuntime(definition)
        await runtime.start()
        print("PROBE READY", flush=True)
        await stop.wait()
        await runtime.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()
