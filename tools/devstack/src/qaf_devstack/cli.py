"""`qaf-devstack`: run the local Kafka and PostgreSQL, or the whole platform."""

from __future__ import annotations

import argparse
import logging

from qaf_devstack.kafka import KafkaCluster, ensure_jars
from qaf_devstack.postgres import EmbeddedPostgres


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qaf-devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start PostgreSQL, Kafka and all five services; Ctrl-C stops all")
    commands.add_parser("jars", help="fetch the Kafka jars from Maven Central into .cache/kafka/libs")
    kafka = commands.add_parser("kafka", help="start or stop the local Kafka")
    kafka.add_argument("action", choices=["start", "stop", "destroy"])
    kafka.add_argument("--cluster", action="store_true", help="three nodes instead of one")
    kafka.add_argument("--port", type=int, default=None, help="first broker port (default 9092; 9192 for --cluster)")
    postgres = commands.add_parser("postgres", help="start or stop the embedded PostgreSQL")
    postgres.add_argument("action", choices=["start", "stop", "destroy"])
    postgres.add_argument("--port", type=int, default=5433)
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    if args.command == "up":
        from qaf_devstack.stack import up

        return up()
    if args.command == "jars":
        print(ensure_jars())
        return 0
    if args.command == "kafka":
        name, nodes = ("cluster", 3) if args.cluster else ("dev", 1)
        port = args.port or (9192 if args.cluster else 9092)
        cluster = KafkaCluster(name, nodes=nodes, base_port=port)
        if args.action == "start":
            print(f"KAFKA_BOOTSTRAP_SERVERS={cluster.start()}")
        elif args.action == "stop":
            cluster.stop()
        else:
            cluster.destroy()
        return 0
    server = EmbeddedPostgres("dev", port=args.port)
    if args.action == "start":
        print(f"DATABASE_URL={server.start()}")
    elif args.action == "stop":
        server.stop()
    else:
        server.destroy()
    return 0
