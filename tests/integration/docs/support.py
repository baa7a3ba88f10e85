"""A service as its own process (`qaf-<name> serve`), configured only through the environment, as an
operator would run it; plus a throw-away database for a test module."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from qaf_shared.kafka import client_options
from qaf_shared.settings import KafkaSettings
from qaf_shared.topics import DLQ_SUFFIX, topic_named

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    name = "d_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def service_env(name: str, database_url: str, kafka: KafkaSettings, **extra: str) -> dict[str, str]:
    prefix = f"QAF_{name.upper()}_"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QAF_", "KAFKA_"))}
    env.update({
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        f"{prefix}LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({prefix + key.upper(): value for key, value in extra.items()})
    return env


class ServiceProcess:
    def __init__(self, name: str, database_url: str, kafka: KafkaSettings, log: Path, **settings: str) -> None:
        self.name = name
        self.port = free_port()
        self.env = service_env(name, database_url, kafka, http_port=str(self.port), **settings)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens: dict[str, str] = {}

    def start(self) -> ServiceProcess:
        out = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen([str(BIN / f"qaf-{self.name}"), "serve"], env=self.env, cwd=ROOT,
                                        stdout=out, stderr=subprocess.STDOUT)
        return self

    async def wait_ready(self, timeout: float = 120.0) -> None:
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                       + self.log.read_text(errors="replace")[-3000:])
                try:
                    if (await client.get(self.url + "/ready")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{self.name} not ready after {timeout}s")
                await asyncio.sleep(0.3)

    async def token(self, principal: str, role: str) -> str:
        """A token made the documented way: `qaf-<service> tokens create`."""
        result = await asyncio.to_thread(
            subprocess.run, [str(BIN / f"qaf-{self.name}"), "tokens", "create", "--principal", principal,
                             "--role", role], env=self.env, capture_output=True, text=True, check=True)
        match = re.search(r"^token:\s+(\S+)$", result.stdout, re.MULTILINE)
        assert match, result.stdout
        return match.group(1)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, 60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return await asyncio.to_thread(self.process.wait, 10)


async def run_example(*args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run an example the way its docstring says, from the repository root."""
    return await asyncio.to_thread(subprocess.run, list(args), env=env, cwd=ROOT, capture_output=True, text=True,
                                   timeout=timeout)


async def read_all(kafka: KafkaSettings, topic: str) -> list[ConsumerRecord]:
    """Every record on a topic now, read to its end without joining a group."""
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        name = kafka.topic_prefix + topic
        count = 1 if topic.endswith(DLQ_SUFFIX) else topic_named(topic).partitions  # a dead-letter topic has one
        partitions = [TopicPartition(name, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
