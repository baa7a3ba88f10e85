"""`qaf-simulator demo` (what `make demo` runs) and `qaf-simulator plan` (the plan's figures, no I/O).

The demo starts PostgreSQL, Kafka and the five services on their embedded defaults (the devstack's
`Stack`), in a fresh database and a fresh topic prefix so every demo starts from an empty council,
plays the simulated year with a progress bar, writes the Board digest PDF under `out/demo/`, prints
where to look, and keeps the platform running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from qaf_simulator.driver import Driver, Lag, Outcome, units
from qaf_simulator.generator import QA_ADMIN, build_plan

DEFAULT_SEED = 2013
OUT = Path("out/demo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qaf-simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="start the platform, simulate the year, leave the dashboard running")
    plan = commands.add_parser("plan", help="print what the seed's plan contains")
    for sub in (demo, plan):
        sub.add_argument("--seed", type=int, default=DEFAULT_SEED)
        sub.add_argument("--months", type=int, default=12)
        sub.add_argument("--cases", type=int, default=2500, help="open cases at the start")
    demo.add_argument("--out", type=Path, default=OUT, help="where the Board digest PDF goes")
    demo.add_argument("--no-wait", action="store_true", help="stop everything after the run (for timing it)")
    demo.add_argument("--screenshots", metavar="DIR", help="also save a dashboard screenshot and the digest's first page as PNG in DIR")
    args = parser.parse_args(argv)
    if args.command == "plan":
        p = build_plan(args.seed, months=args.months, cases=args.cases)
        print({"seed": p.seed, "months": [m.month for m in p.months], "roster": len(p.roster), **p.stats})
        return 0
    return demo_main(args)


def demo_main(args: argparse.Namespace) -> int:
    from qaf_devstack.stack import Stack

    from qaf_simulator.setup import EVENT_TIME_ENV

    started = time.monotonic()
    stack = Stack()
    stopping = False

    def on_sigterm(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        print("starting PostgreSQL and Kafka ...", flush=True)
        stack.start_infrastructure()
        prefix = f"demo{int(time.time())}."
        stack.database_url = asyncio.run(_fresh_environment(stack.database_url, stack.bootstrap, prefix))
        stack.extra_env = {**EVENT_TIME_ENV, "KAFKA_TOPIC_PREFIX": prefix}
        print(f"  ready in {time.monotonic() - started:.0f}s; starting the five services on event time ...", flush=True)
        stack.start_services()
        stack.wait_ready()
        print(f"  services ready in {time.monotonic() - started:.0f}s", flush=True)
        outcome, reporting_token = asyncio.run(_simulate(args, stack, prefix))
        elapsed = time.monotonic() - started
        print(_where_to_look(stack, outcome, reporting_token, elapsed), flush=True)
        if args.screenshots:
            from qaf_simulator.screenshots import capture

            url = f"http://127.0.0.1:{stack.services['reporting']}/dashboard?token={reporting_token}&period_end=2014-03"
            for picture in capture(url, outcome.digest_pdf, Path(args.screenshots)):
                print(f"  screenshot     {picture}", flush=True)
        if args.no_wait:
            return 0
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


async def _fresh_environment(admin_url: str, bootstrap: str, prefix: str) -> str:
    """A new database `qaf_demo` (the previous demo's dropped) and the topics under a new prefix
    (the previous demos' topics deleted), so every demo starts from an empty council."""
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg
    from aiokafka.admin import AIOKafkaAdminClient

    from qaf_shared.kafka import ensure_topics
    from qaf_shared.settings import KafkaSettings

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute('DROP DATABASE IF EXISTS "qaf_demo" WITH (FORCE)')
        await conn.execute('CREATE DATABASE "qaf_demo"')
        # roles are cluster-wide: the previous demo's service roles stay and are reused
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        old = [t for t in await admin.list_topics() if t.startswith("demo") and not t.startswith(prefix)]
        if old:
            await admin.delete_topics(old)
    finally:
        await admin.close()
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix))
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/qaf_demo", parts.query, parts.fragment))


async def _simulate(args: argparse.Namespace, stack: Any, prefix: str) -> tuple[Outcome, str]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from qaf_simulator.setup import create_tokens

    plan = build_plan(args.seed, months=args.months, cases=args.cases)
    needed = plan.actors() | {("reporting", "reporting", "U-DASHBOARD")}
    tokens = await create_tokens(stack.database_url, needed)
    clients = {name: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120)
               for name, port in stack.services.items()}
    lag = Lag(stack.bootstrap, prefix)
    await lag.start()
    columns = (TextColumn("[bold]{task.fields[month]}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("setting up", total=units(plan), month="2013-14")
            driver = Driver(plan, clients, tokens, lag,
                            progress=lambda what, n: bar.update(task, advance=n, description=what))
            original_draw = driver.draw

            async def draw(month: Any) -> Any:
                bar.update(task, month=month.month)
                return await original_draw(month)

            driver.draw = draw  # type: ignore[method-assign]
            outcome = await driver.run(args.out)
            bar.update(task, completed=bar.tasks[0].total, description="done", month=plan.digest_period)
    finally:
        await lag.stop()
        for client in clients.values():
            await client.aclose()
    return outcome, tokens[("reporting", "reporting", "U-DASHBOARD")]


def _where_to_look(stack: Any, outcome: Outcome, reporting_token: str, elapsed: float) -> str:
    ports = stack.services
    drawn = sum(len(v) for v in outcome.allocations.values())
    docs = "\n".join(f"  {name:<12} http://127.0.0.1:{port}/docs" for name, port in ports.items())
    asyncapi = Path("docs/asyncapi.json").resolve()
    summary = outcome.digest["summary"] if outcome.digest else {}
    return f"""
The council's year 2013-14, simulated in {elapsed:.0f}s:
  {outcome.case_events} case events published, {drawn} audits drawn, {outcome.completed} completed
  ({outcome.late} late, {outcome.never} never), {outcome.steps} escalation, complaint and milestone steps.

Where to look:
  Dashboard      http://127.0.0.1:{ports['reporting']}/dashboard?token={reporting_token}&period_end=2014-03
  Board digest   {outcome.digest_pdf.resolve() if outcome.digest_pdf else '(none)'}
  AsyncAPI       {asyncapi}   (the event contracts)
  OpenAPI docs (each service; the APIs need a bearer token: `uv run qaf-<service> tokens create ...`)
{docs}
  Digest summary {summary}
  Logs           var/log/
(the services run with a fresh database `qaf_demo`; the QA admin of the run is {QA_ADMIN})

Press Ctrl-C to stop everything."""


if __name__ == "__main__":
    raise SystemExit(main())
