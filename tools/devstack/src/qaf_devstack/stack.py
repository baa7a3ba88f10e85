"""The whole platform as local processes: PostgreSQL, Kafka and the five services.

`qaf-devstack up` (what `make up` runs) starts everything on the embedded defaults, waits until
every service answers /ready, prints where each listens, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from qaf_devstack.kafka import KafkaCluster
from qaf_devstack.paths import VAR
from qaf_devstack.postgres import EmbeddedPostgres

SERVICES: dict[str, int] = {
    "allocation": 8001,
    "audits": 8002,
    "escalations": 8003,
    "reporting": 8004,
    "actions": 8005,
}


@dataclass
class Stack:
    kafka_port: int = 9092
    postgres_port: int = 5433
    services: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    extra_env: dict[str, str] = field(default_factory=dict)
    kafka: KafkaCluster | None = None
    postgres: EmbeddedPostgres | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    database_url: str = ""
    bootstrap: str = ""

    def start_infrastructure(self) -> None:
        self.database_url = os.environ.get("DATABASE_URL", "")
        if not self.database_url:
            self.postgres = EmbeddedPostgres("dev", port=self.postgres_port)
            self.database_url = self.postgres.start()
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not self.bootstrap:
            self.kafka = KafkaCluster("dev", base_port=self.kafka_port)
            self.bootstrap = self.kafka.start()
        from qaf_shared.kafka import ensure_topics
        from qaf_shared.settings import KafkaSettings

        asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=self.bootstrap)))

    def service_env(self, name: str, port: int) -> dict[str, str]:
        prefix = f"QAF_{name.upper()}_"
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            f"{prefix}HTTP_PORT": str(port),
            **self.extra_env,
        }

    def start_services(self) -> None:
        logs = VAR / "log"
        logs.mkdir(parents=True, exist_ok=True)
        bin_dir = Path(sys.executable).parent
        # Migrations first, one at a time: each creates its role and schema.
        for name in self.services:
            subprocess.run([str(bin_dir / f"qaf-{name}"), "migrate"], env=self.service_env(name, 0), check=True,
                           capture_output=True)
        for name, port in self.services.items():
            out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
            self.processes[name] = subprocess.Popen(
                [str(bin_dir / f"qaf-{name}"), "serve"], env=self.service_env(name, port), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0, abort: Callable[[], bool] = lambda: False) -> dict[str, float]:
        started = time.monotonic()
        ready: dict[str, float] = {}
        with httpx.Client(timeout=2) as client:
            while len(ready) < len(self.services):
                for name, port in self.services.items():
                    if name in ready:
                        continue
                    process = self.processes[name]
                    if process.poll() is not None:
                        log = (VAR / "log" / f"{name}.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
                    try:
                        if client.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                            ready[name] = time.monotonic() - started
                    except httpx.HTTPError:
                        pass
                if abort():
                    raise InterruptedError("stopped before every service was ready")
                if time.monotonic() - started > timeout:
                    missing = sorted(set(self.services) - set(ready))
                    raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(missing)}")
                time.sleep(0.3)
        return ready

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def describe(self) -> str:
        lines = [
            f"Kafka       {self.bootstrap}",
            f"PostgreSQL  {_hide_password(self.database_url)}",
            "",
            f"{'service':<12} {'API':<24} {'OpenAPI docs':<30} health",
        ]
        for name, port in self.services.items():
            base = f"http://127.0.0.1:{port}"
            lines.append(f"{name:<12} {base:<24} {base + '/docs':<30} {base}/ready")
        return "\n".join(lines)


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def up() -> int:
    stack = Stack()
    started = time.monotonic()
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Ctrl-C and SIGTERM only ask the loop to stop, so a second one cannot cut the clean stop short.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        print("starting PostgreSQL and Kafka ...", flush=True)
        stack.start_infrastructure()
        print(f"  infrastructure ready in {time.monotonic() - started:.1f}s; starting services ...", flush=True)
        stack.start_services()
        ready = stack.wait_ready(abort=lambda: stopping)
        print(f"all five services ready in {time.monotonic() - started:.1f}s "
              f"(slowest: {max(ready, key=ready.__getitem__)})\n", flush=True)
        print(stack.describe(), flush=True)
        print(f"\nlogs in {VAR / 'log'}; press Ctrl-C to stop everything.", flush=True)
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
        return 0
    except InterruptedError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
