"""A service in its own process, so tests can SIGKILL or SIGTERM it like an orchestrator would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from qaf_shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]


class ProbeProcess:
    """The probe service (`tests.support.probe`) as a child process."""

    def __init__(self, database_url: str, kafka: KafkaSettings, *, crash_key: str | None = None,
                 instance: str = "probe", deduplicate: bool = True) -> None:
        self.args = [sys.executable, "-m", "tests.support.probe", database_url, kafka.bootstrap_servers,
                     kafka.topic_prefix]
        if crash_key:
            self.args.append(crash_key)
        # QAF_FAULTS_BREAK_DEDUP=1 switches deduplication off in every probe process, to see the fault
        # tests fail as they must when the consumer applies an event twice.
        deduplicate = deduplicate and os.environ.get("QAF_FAULTS_BREAK_DEDUP") != "1"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "QAF_PROBE_INSTANCE": instance,
                    "QAF_PROBE_NO_DEDUP": "0" if deduplicate else "1"}
        self.process: subprocess.Popen[str] | None = None

    async def start(self, *, wait_ready: bool = True) -> ProbeProcess:
        self.process = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, env=self.env)
        if wait_ready:
            line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), timeout=120)
            if "PROBE READY" not in line:
                raise RuntimeError(f"probe did not start: {line!r}, exit {self.process.poll()}")
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    async def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None
