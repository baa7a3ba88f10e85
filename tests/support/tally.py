"""What the probe applied, held against what a test sent: the independent expectation of the fault tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from qaf_shared.settings import KafkaSettings
from tests.support.kafka import read_topic


@dataclass
class Tally:
    expected: int
    lost: list[str]  # sent (and acknowledged by the broker), never applied
    doubled: list[str]  # applied more than once
    unsent: list[str]  # applied, never sent
    dead_lettered: int  # rows in the probe's dead_letters
    dead_letter_copies: int  # records on qaf.cases.dlq

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.unsent or self.dead_lettered or self.dead_letter_copies)

    def figures(self) -> dict[str, Any]:
        return {"lost": len(self.lost), "doubled": len(self.doubled), "dead_lettered": self.dead_lettered,
                "dead_letter_copies": self.dead_letter_copies}

    def __str__(self) -> str:
        return (f"lost {len(self.lost)} {self.lost[:5]}, doubled {len(self.doubled)} {self.doubled[:5]}, "
                f"unsent {len(self.unsent)}, dead-lettered {self.dead_lettered} ({self.dead_letter_copies} on .dlq)")


async def applied_keys(conn: asyncpg.Connection) -> dict[str, int]:
    """key → how many times the probe applied an event of that key (one `seen` row per application)."""
    try:
        rows = await conn.fetch("SELECT key, count(*) AS n FROM probe.seen GROUP BY key")
    except asyncpg.UndefinedTableError:  # the probe has not migrated yet
        return {}
    return {row["key"]: row["n"] for row in rows}


async def applied_count(conn: asyncpg.Connection) -> int:
    """Distinct keys applied so far (0 before the probe migrated)."""
    try:
        return await conn.fetchval("SELECT count(DISTINCT key) FROM probe.seen")
    except asyncpg.UndefinedTableError:
        return 0


async def tally(conn: asyncpg.Connection, sent: Iterable[str], kafka: KafkaSettings | None = None) -> Tally:
    """Each key in `sent` stands for one distinct event; compare with what was applied and dead-lettered."""
    expected = set(sent)
    applied = await applied_keys(conn)
    dead = await conn.fetchval("SELECT count(*) FROM probe.dead_letters")
    copies = len(await read_topic(kafka, "qaf.cases.dlq", expect=1, timeout=2)) if kafka is not None else 0
    return Tally(
        expected=len(expected),
        lost=sorted(expected - set(applied)),
        doubled=sorted(key for key, n in applied.items() if n > 1),
        unsent=sorted(set(applied) - expected),
        dead_lettered=dead,
        dead_letter_copies=copies,
    )
