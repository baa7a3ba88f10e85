"""Run the allocation service as its own process, for the restart test:

    python -m tests.integration.allocation.crash_runner DATABASE_URL BOOTSTRAP PREFIX [crash]

With `crash`, the process SIGKILLs itself right after the transaction applying a run command has
committed (the draw and its outbox rows are stored) and before the command's offset is committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from typing import Any

from qaf_shared import topics
from qaf_shared.logging import configure_logging
from qaf_shared.runtime import ServiceRuntime
from qaf_shared.settings import KafkaSettings
from tests.integration.allocation.support import allocation_definition


def main() -> None:
    database_url, bootstrap, prefix = sys.argv[1:4]
    configure_logging("allocation", "WARNING")
    definition = allocation_definition(database_url, KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix))
    if len(sys.argv) > 4 and sys.argv[4] == "crash":

        def crash_after(records: Any) -> None:
            if any(record.topic == prefix + topics.ALLOCATION_COMMANDS.name for record in records):
                os.kill(os.getpid(), signal.SIGKILL)  # the draw is committed, the command's offset not

        subscriptions = definition.subscriptions
        definition.subscriptions = lambda runtime: [  # type: ignore[method-assign]
            dataclasses.replace(s, after_commit=crash_after) for s in subscriptions(runtime)
        ]

    async def run() -> None:
        runtime = ServiceRuntime(definition)
        await runtime.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runtime.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()
