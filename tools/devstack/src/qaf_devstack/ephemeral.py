"""Throw-away Kafka and PostgreSQL for tests and benchmarks.

In order: `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` when set; else testcontainers when a Docker
engine answers; else the project's own launchers (Apache Kafka from Maven Central jars, embedded
PostgreSQL) on test ports, in throw-away folders. The last is the path these machines take.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from qaf_devstack.paths import VAR



def free_port_block(size: int) -> int:
    """A base port with `size` consecutive free ports above it, so parallel test runs never collide."""
    import random
    import socket

    for _ in range(200):
        base = random.randrange(20000, 60000 - size)
        sockets = []
        try:
            for offset in range(size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free block of ports on 127.0.0.1")


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


@contextmanager
def ephemeral_kafka() -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from qaf_devstack.kafka import KafkaCluster

    cluster = KafkaCluster(f"test-{os.getpid()}", base_port=free_port_block(2), root=VAR / "test" / f"kafka-{os.getpid()}")
    try:
        yield cluster.start()
    finally:
        cluster.destroy()


@contextmanager
def ephemeral_postgres() -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    if docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as container:
            yield container.get_connection_url()
        return
    from qaf_devstack.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(f"test-{os.getpid()}", port=free_port_block(1), root=VAR / "test" / f"pg-{os.getpid()}")
    try:
        yield server.start()
    finally:
        server.destroy()
