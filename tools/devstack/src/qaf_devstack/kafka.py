"""Apache Kafka in KRaft mode, run on the machine's Java from jars assembled out of Maven Central.

One node for development and most tests; three nodes (static controller.quorum.voters, replication
factor 3, min.insync.replicas 2) for fault tests. Listeners bind 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from qaf_devstack.paths import KAFKA_LIBS, KAFKA_LOG4J, KAFKA_POM, VAR

HEAP = "-Xmx512m -Xms128m"


def ensure_jars() -> Path:
    """Copy Kafka's runtime classpath from Maven Central into the cache, once."""
    marker = KAFKA_LIBS / ".complete"
    if marker.exists():
        return KAFKA_LIBS
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed once to fetch the Kafka jars from Maven Central")
    KAFKA_LIBS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        check=True,
    )
    marker.write_text("ok\n")
    return KAFKA_LIBS


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("Java 17 or newer is needed to run Kafka")
    return found


@dataclass
class KafkaNode:
    node_id: int
    broker_port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def properties(self) -> Path:
        return self.directory / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.directory / "kafka.pid"

    def pid(self) -> int | None:
        if self.process is not None and self.process.poll() is None:
            return self.process.pid
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None


class KafkaCluster:
    """A single node (`nodes=1`) or a three-node cluster on one host."""

    def __init__(self, name: str = "dev", *, nodes: int = 1, base_port: int = 9092, root: Path | None = None):
        if nodes not in (1, 3):
            raise ValueError("a cluster has one node or three")
        self.name = name
        self.root = root or VAR / "kafka" / name
        self.nodes = [
            KafkaNode(
                node_id=i + 1,
                broker_port=base_port + 2 * i,
                controller_port=base_port + 2 * i + 1,
                directory=self.root / f"node-{i + 1}",
            )
            for i in range(nodes)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def _write_config(self, node: KafkaNode) -> None:
        multi = len(self.nodes) > 1
        replication = 3 if multi else 1
        lines = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(node.directory / "data"),
            "auto.create.topics.enable": "false",
            "num.partitions": 1,
            "default.replication.factor": replication,
            "min.insync.replicas": 2 if multi else 1,
            "offsets.topic.replication.factor": replication,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": 2 if multi else 1,
            "share.coordinator.state.topic.replication.factor": replication,
            "share.coordinator.state.topic.min.isr": 2 if multi else 1,
            "group.initial.rebalance.delay.ms": 0,
            "message.max.bytes": 2 * 1024 * 1024 + 65536,
            "replica.fetch.max.bytes": 2 * 1024 * 1024 + 65536,
            "log.retention.hours": 168,
            "log.segment.bytes": 64 * 1024 * 1024,
            "num.io.threads": 2,
            "num.network.threads": 2,
            "background.threads": 2,
        }
        if multi:
            lines["controller.quorum.voters"] = ",".join(
                f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes
            )
        else:
            lines["controller.quorum.bootstrap.servers"] = f"127.0.0.1:{node.controller_port}"
        node.directory.mkdir(parents=True, exist_ok=True)
        node.properties.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def _classpath(self) -> str:
        return str(ensure_jars()) + "/*"

    def _format(self, node: KafkaNode, cluster_id: str) -> None:
        if (node.directory / "data" / "meta.properties").exists():
            return
        command = [_java(), *HEAP.split(), "-cp", self._classpath(), "kafka.tools.StorageTool", "format",
                   f"--cluster-id={cluster_id}", f"--config={node.properties}", "--ignore-formatted"]
        if len(self.nodes) == 1:
            command.append("--standalone")
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **self._log_env(node)})
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def _log_env(self, node: KafkaNode) -> dict[str, str]:
        return {"LOG_DIR": str(node.directory / "logs")}

    def _cluster_id(self) -> str:
        id_file = self.root / "cluster.id"
        if id_file.exists():
            return id_file.read_text().strip()
        self.root.mkdir(parents=True, exist_ok=True)
        # Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
        import base64

        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's own Uuid does: an id must not read as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        id_file.write_text(cluster_id)
        return cluster_id

    def start_node(self, node: KafkaNode) -> None:
        if node.pid() is not None:
            return
        logs = node.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        command = [
            _java(), *HEAP.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}", f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
            "-cp", self._classpath(), "kafka.Kafka", str(node.properties),
        ]
        out = open(logs / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        node.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        node.pid_file.write_text(str(node.process.pid))

    def start(self, *, timeout: float = 120.0) -> str:
        """Format storage where needed, start every node, wait until all answer. Returns bootstrap servers."""
        cluster_id = self._cluster_id()
        for node in self.nodes:
            self._write_config(node)
            self._format(node, cluster_id)
        for node in self.nodes:
            self.start_node(node)
        asyncio.run(wait_until_ready(self.bootstrap_servers, len(self.nodes), timeout=timeout, cluster=self))
        return self.bootstrap_servers

    def kill_node(self, node: KafkaNode, sig: int = signal.SIGKILL) -> None:
        pid = node.pid()
        if pid is not None:
            os.kill(pid, sig)
            _wait_gone(node, pid, 30)
        node.process = None

    def stop(self, *, timeout: float = 30.0) -> None:
        for node in self.nodes:
            pid = node.pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
        for node in self.nodes:
            pid = node.pid()
            if pid is not None and not _wait_gone(node, pid, timeout):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(node, pid, 10)
            node.pid_file.unlink(missing_ok=True)
            node.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def is_running(self) -> bool:
        return all(node.pid() is not None for node in self.nodes)


def _wait_gone(node: KafkaNode, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.process is not None:
            if node.process.poll() is not None:
                return True
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.1)
    return False


async def wait_until_ready(bootstrap: str, brokers: int, *, timeout: float, cluster: KafkaCluster | None = None) -> None:
    """Wait until the cluster's metadata lists `brokers` brokers."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    # Refused connections are expected while the broker starts: keep them out of the output.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if cluster is not None:
            for node in cluster.nodes:
                if node.process is not None and node.process.poll() is not None:
                    log = (node.directory / "logs" / "stdout.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"Kafka node {node.node_id} exited during start:\n{log}")
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            described = await admin.describe_cluster()
            if len(described.get("brokers", [])) >= brokers:
                return
        except Exception as exc:  # not up yet
            last_error = exc
        finally:
            try:
                await admin.close()
            except Exception:
                pass
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {bootstrap} did not become ready in {timeout:.0f}s: {last_error}")
