"""Subscribe to theme updates: keep a live view of the reporting figures from `qaf.themes`.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python examples/subscribe_theme_updates.py --group my-dashboard

Each `theme-updated` message says one figure changed: `count` over `denominator` (and `rate`, per 100)
for a theme, a measure, a service (or "all") and a rolling window ending at `period_end`. As the
ThemeUpdated contract says, a subscriber builds its view by keeping the latest message per
(theme, measure, question_id, category, service, window_months, period_end). Messages are keyed by
theme, so one theme's figures arrive in order and "latest" is simply the last one read.

The consumer has its own group (`--group`), so it gets every message whatever other subscribers do.
Its view lives in memory, so it commits no offsets and reads the topic from the beginning each time
it starts; a subscriber that stores its view should commit offsets after storing what it read.

Prints one line per change as it arrives; `--seconds N` stops after N seconds, `--until-caught-up`
once it has read everything published before it started; then the view is printed, one JSON object
a line with `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from kafka_options import client_options, topic

KEY_FIELDS = ("theme", "measure", "question_id", "category", "service", "window_months", "period_end")
View = dict[tuple[Any, ...], dict[str, Any]]


def apply(view: View, message: dict[str, Any]) -> dict[str, Any] | None:
    """Keep the latest figure per key. Returns the payload, or None for a message this view ignores."""
    if message.get("event_type") != "theme-updated" or message.get("schema_version") != 1:
        return None  # a newer schema or another event: skip it rather than misread it
    payload = message["payload"]
    view[tuple(payload[field] for field in KEY_FIELDS)] = payload
    return payload


def describe(p: dict[str, Any]) -> str:
    what = "/".join(str(p[f]) for f in ("theme", "measure", "question_id", "category") if p[f] is not None)
    rate = "-" if p["rate"] is None else f"{p['rate']:.2f}"
    delta = "" if p["delta"] is None else f" ({p['delta']:+.2f})"
    return (f"{p['period_end']} {p['window_months']:>2}m {p['service']:<24} {what}: "
            f"{p['count']}/{p['denominator']} {p['denominator_kind']} = {rate}{delta}")


async def follow(group: str, *, seconds: float | None, until_caught_up: bool, quiet: bool) -> View:
    consumer = AIOKafkaConsumer(
        topic("qaf.themes"),
        **client_options(),
        group_id=group,
        auto_offset_reset="earliest",  # no committed offsets: start from the beginning
        enable_auto_commit=False,
        value_deserializer=json.loads,
    )
    await consumer.start()
    view: View = {}
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    end_offsets: dict[TopicPartition, int] | None = None
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)  # Ctrl-C: print the view, then stop
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    payload = apply(view, record.value)
                    if payload is not None and not quiet:
                        print(describe(payload), file=sys.stderr)
            if until_caught_up:
                assignment = consumer.assignment()
                if not assignment:
                    continue  # the group has not given us partitions yet
                if end_offsets is None:
                    end_offsets = await consumer.end_offsets(list(assignment))
                if all([await consumer.position(tp) >= end for tp, end in end_offsets.items()]):
                    break
    finally:
        await consumer.stop()
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", default="theme-view-example", help="this subscriber's own consumer group")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--until-caught-up", action="store_true", help="stop once everything published so far is read")
    parser.add_argument("--json", action="store_true", help="print the final view as JSON lines")
    parser.add_argument("--quiet", action="store_true", help="do not print each change as it arrives")
    args = parser.parse_args()
    view = asyncio.run(follow(args.group, seconds=args.seconds, until_caught_up=args.until_caught_up,
                              quiet=args.quiet))
    for key in sorted(view, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        print(json.dumps(view[key]) if args.json else describe(view[key]))


if __name__ == "__main__":
    main()
