"""PostgreSQL side of reporting (`Repository`): apply effects to the counters, read window sums, publication state.

`Repository.apply` takes a batch of effects (one event's, from the live consumer, or thousands, from a replay)
and applies them inside the caller's transaction with a handful of set-based statements:
guarded groups are kept only the first time their `once` key is seen, case changes go through the
case state, counters are added up in memory and upserted once per key, dirty cells are marked.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from qaf_reporting.domain import cases as case_rules
from qaf_reporting.domain.effects import FAMILY_OF_KIND, CountKey, Effects
from qaf_reporting.domain.figures import ALL, Sums
from qaf_reporting.domain.publishing import Published

# What a replay empties. `published_figures` is kept: it is what subscribers were told, not a figure,
# so a replay that rebuilds the same figures publishes nothing, and one that changes a figure publishes it.
STATE_TABLES = ("monthly_counts", "counted_entities", "cases", "dirty_cells", "watermark")

COPY_THRESHOLD = 500  # more counter keys than this in one batch: COPY into a staging table, then upsert


def _scope_clause(scope: str, param: int) -> str:
    return "TRUE" if scope == ALL else f"service = ${param}"


MonthlyGroup = tuple[str, Sequence[str], int, int]  # scope, kinds, first month, last month


_CLEAR_DIRTY = """
    DELETE FROM dirty_cells WHERE (family, service, month) IN (
        SELECT family, service, month FROM dirty_cells
        WHERE (family, service, month, xmin::text::bigint) IN (
            SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]))
        FOR UPDATE SKIP LOCKED
    )
"""


def _cell_columns(cells: Sequence[asyncpg.Record]) -> list[list[Any]]:
    return [[c["family"] for c in cells], [c["service"] for c in cells], [c["month"] for c in cells],
            [c["version"] for c in cells]]


OutboxRow = tuple[UUID, str, str, str, bytes]  # event_id, topic, key, event_type, body


class Repository:
    """Reporting's tables over one connection (or a pool, for reads outside a transaction)."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    async def apply(self, batch: Sequence[Effects]) -> int:
        """Apply effects in order. Returns how many counter increments were kept."""
        # 1. once-per-entity groups: the first sighting wins, in this batch and against the database
        wanted: dict[tuple[str, str], None] = {}
        for effects in batch:
            for group in effects.groups:
                if group.once is not None:
                    wanted.setdefault(group.once, None)
        fresh: set[tuple[str, str]] = set()
        if wanted:
            rows = await self.conn.fetch(
                """
                INSERT INTO counted_entities (kind, entity_id)
                SELECT * FROM unnest($1::text[], $2::text[])
                ON CONFLICT DO NOTHING
                RETURNING kind, entity_id
                """,
                [key[0] for key in wanted],
                [key[1] for key in wanted],
            )
            fresh = {(r["kind"], r["entity_id"]) for r in rows}
        counts: Counter[CountKey] = Counter()
        latest: datetime | None = None
        case_changes = []
        for effects in batch:
            if latest is None or effects.event_at > latest:
                latest = effects.event_at
            for group in effects.groups:
                if group.once is not None:
                    if group.once not in fresh:
                        continue
                    fresh.discard(group.once)  # a second sighting in the same batch counts nothing
                counts.update(group.counts)
            if effects.case is not None:
                case_changes.append(effects)

        # 2. case changes, in order, through each case's state
        if case_changes:
            ids = sorted({e.case.case_id for e in case_changes if e.case is not None})
            rows = await self.conn.fetch(
                "SELECT case_id, service, opened_month, closed_month FROM cases WHERE case_id = ANY($1::text[])", ids
            )
            states: dict[str, case_rules.CaseState | None] = {
                r["case_id"]: case_rules.CaseState(r["case_id"], r["service"], r["opened_month"], r["closed_month"])
                for r in rows
            }
            before = dict(states)
            for effects in case_changes:
                change = effects.case
                assert change is not None
                old = states.get(change.case_id)
                new = case_rules.apply_change(old, change)
                states[change.case_id] = new
                for count in case_rules.delta(old, new):
                    counts[count[:6]] += count.n  # type: ignore[index]
            changed = [s for cid, s in states.items() if s is not None and s != before.get(cid)]
            if changed:
                await self.conn.execute(
                    """
                    INSERT INTO cases (case_id, service, opened_month, closed_month)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
                    ON CONFLICT (case_id) DO UPDATE SET service = EXCLUDED.service,
                        opened_month = EXCLUDED.opened_month, closed_month = EXCLUDED.closed_month
                    """,
                    [s.case_id for s in changed],
                    [s.service for s in changed],
                    [s.opened_month for s in changed],
                    [s.closed_month for s in changed],
                )

        # 3. the dirty cells for the theme-updated flusher, stamped with the latest event time of the batch, and
        # 4. the counters, one upsert per key in key order (cells before counters: concurrent writers take row
        # locks in the same order)
        rows = [key + (n,) for key, n in counts.items() if n]
        cells = sorted({(FAMILY_OF_KIND[row[0]], row[1], row[2]) for row in rows})
        mark_dirty = """
            INSERT INTO dirty_cells (family, service, month, last_event_at)
            SELECT f, s, m, $4 FROM unnest($1::text[], $2::text[], $3::int[]) AS c(f, s, m)
            ON CONFLICT (family, service, month)
            DO UPDATE SET last_event_at = greatest(dirty_cells.last_event_at, EXCLUDED.last_event_at)
        """
        cell_args = ([c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells], latest)
        if len(rows) > COPY_THRESHOLD:
            await self.conn.execute(mark_dirty, *cell_args)
            await self.conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS staged_counts (LIKE monthly_counts) ON COMMIT DELETE ROWS"
            )
            await self.conn.copy_records_to_table(
                "staged_counts", records=rows, columns=["kind", "service", "month", "theme", "k1", "k2", "n"]
            )
            await self.conn.execute(
                """
                INSERT INTO monthly_counts (kind, service, month, theme, k1, k2, n)
                SELECT kind, service, month, theme, k1, k2, n FROM staged_counts ORDER BY kind, service, month, theme, k1, k2
                ON CONFLICT (kind, service, month, theme, k1, k2) DO UPDATE SET n = monthly_counts.n + EXCLUDED.n
                """
            )
        elif rows:
            rows.sort()
            # One round trip for both (the live consumer's usual batch is a few events). PostgreSQL runs the
            # main statement, then the WITH: cells, then counters, the order of the other branch too.
            await self.conn.execute(
                f"""
                WITH counted AS (
                    INSERT INTO monthly_counts (kind, service, month, theme, k1, k2, n)
                    SELECT * FROM unnest($5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[],
                                         $11::bigint[])
                    ON CONFLICT (kind, service, month, theme, k1, k2) DO UPDATE SET n = monthly_counts.n + EXCLUDED.n
                )
                {mark_dirty}
                """,
                *cell_args,
                *[list(column) for column in zip(*rows, strict=True)],
            )
        return len(rows)

    async def monthly_sums_reading(
        self, reads: Mapping[str, Collection[str]], scope: str, start: int, end: int
    ) -> dict[int, dict[tuple[str, str, str, str], int]]:
        """month -> (kind, theme, k1, k2) -> count over start..end, for one service or all, of the kinds in
        `reads`, keeping only the dimensions (theme, k1, k2) each is read by: the others are summed away in
        the query (as ''), so far fewer rows travel and are held."""
        kept = {dim: [kind for kind, dims in reads.items() if dim in dims] for dim in ("theme", "k1", "k2")}
        rows = await self.conn.fetch(
            f"""
            SELECT month, kind,
                   CASE WHEN kind = ANY($4::text[]) THEN theme ELSE '' END AS theme,
                   CASE WHEN kind = ANY($5::text[]) THEN k1 ELSE '' END AS k1,
                   CASE WHEN kind = ANY($6::text[]) THEN k2 ELSE '' END AS k2,
                   sum(n)::bigint AS n
            FROM monthly_counts
            WHERE kind = ANY($1::text[]) AND month BETWEEN $2 AND $3 AND {_scope_clause(scope, 7)}
            GROUP BY 1, 2, 3, 4, 5
            """,
            list(reads),
            start,
            end,
            kept["theme"],
            kept["k1"],
            kept["k2"],
            *([] if scope == ALL else [scope]),
        )
        out: dict[int, dict[tuple[str, str, str, str], int]] = defaultdict(dict)
        for r in rows:
            out[r["month"]][(r["kind"], r["theme"], r["k1"], r["k2"])] = r["n"]
        return out

    async def monthly_sums_many(
        self, groups: Sequence[MonthlyGroup]
    ) -> list[dict[int, dict[tuple[str, str, str, str], int]]]:
        """Monthly sums (every dimension) for many (scope, kinds, start, end) groups in one round trip, in the
        groups' order."""
        g, kinds, scopes, firsts, lasts = [], [], [], [], []
        for i, (scope, group_kinds, start, end) in enumerate(groups):
            for kind in group_kinds:
                g.append(i)
                kinds.append(kind)
                scopes.append(scope)
                firsts.append(start)
                lasts.append(end)
        out: list[dict[int, dict[tuple[str, str, str, str], int]]] = [defaultdict(dict) for _ in groups]
        if not g:
            return out
        # Two branches, so a service's group reads by the primary key (kind, service, month) and "all" by kind.
        rows = await self.conn.fetch(
            """
            WITH w AS (
                SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::int[], $5::int[]) AS w(g, kind, scope, first, last)
            )
            SELECT w.g, c.month, c.kind, c.theme, c.k1, c.k2, sum(c.n)::bigint AS n
            FROM w JOIN monthly_counts c ON c.kind = w.kind AND c.service = w.scope AND c.month BETWEEN w.first AND w.last
            WHERE w.scope <> $6
            GROUP BY w.g, c.month, c.kind, c.theme, c.k1, c.k2
            UNION ALL
            SELECT w.g, c.month, c.kind, c.theme, c.k1, c.k2, sum(c.n)::bigint AS n
            FROM w JOIN monthly_counts c ON c.kind = w.kind AND c.month BETWEEN w.first AND w.last
            WHERE w.scope = $6
            GROUP BY w.g, c.month, c.kind, c.theme, c.k1, c.k2
            """,
            g, kinds, scopes, firsts, lasts, ALL,
        )
        for r in rows:
            out[r["g"]][r["month"]][(r["kind"], r["theme"], r["k1"], r["k2"])] = r["n"]
        return out

    async def sums(self, kinds: Iterable[str], scope: str, start: int, end: int) -> Sums:
        """(kind, theme, k1, k2) -> count over start..end, for one service or all."""
        rows = await self.conn.fetch(
            f"""
            SELECT kind, theme, k1, k2, sum(n)::bigint AS n FROM monthly_counts
            WHERE kind = ANY($1::text[]) AND month BETWEEN $2 AND $3 AND {_scope_clause(scope, 4)}
            GROUP BY kind, theme, k1, k2
            """,
            list(kinds),
            start,
            end,
            *([] if scope == ALL else [scope]),
        )
        return {(r["kind"], r["theme"], r["k1"], r["k2"]): r["n"] for r in rows}

    async def sums_by_service(
        self, kinds: Iterable[str], start: int, end: int
    ) -> dict[str, dict[tuple[str, str, str, str], int]]:
        """service -> (kind, theme, k1, k2) -> count over start..end."""
        rows = await self.conn.fetch(
            """
            SELECT service, kind, theme, k1, k2, sum(n)::bigint AS n FROM monthly_counts
            WHERE kind = ANY($1::text[]) AND month BETWEEN $2 AND $3
            GROUP BY service, kind, theme, k1, k2
            """,
            list(kinds),
            start,
            end,
        )
        out: dict[str, dict[tuple[str, str, str, str], int]] = defaultdict(dict)
        for r in rows:
            out[r["service"]][(r["kind"], r["theme"], r["k1"], r["k2"])] = r["n"]
        return out

    async def case_series(self, scope: str) -> tuple[dict[int, int], dict[int, int]]:
        """Cases opened and closed per month (all months), for one service or all."""
        rows = await self.conn.fetch(
            f"""
            SELECT kind, month, sum(n)::bigint AS n FROM monthly_counts
            WHERE kind IN ('case-opened', 'case-closed') AND {_scope_clause(scope, 1)}
            GROUP BY kind, month
            """,
            *([] if scope == ALL else [scope]),
        )
        opened: dict[int, int] = {}
        closed: dict[int, int] = {}
        for r in rows:
            (opened if r["kind"] == "case-opened" else closed)[r["month"]] = r["n"]
        return opened, closed

    async def case_series_all(self) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
        """`case_series` of every service and of "all" in one round trip: scope -> (opened, closed)."""
        rows = await self.conn.fetch(
            """
            SELECT CASE WHEN GROUPING(service) = 1 THEN $1 ELSE service END AS scope, kind, month, sum(n)::bigint AS n FROM monthly_counts
            WHERE kind IN ('case-opened', 'case-closed')
            GROUP BY GROUPING SETS ((service, kind, month), (kind, month))
            """,
            ALL,
        )
        out: dict[str, tuple[dict[int, int], dict[int, int]]] = defaultdict(lambda: ({}, {}))
        for r in rows:
            opened, closed = out[r["scope"]]
            (opened if r["kind"] == "case-opened" else closed)[r["month"]] = r["n"]
        return out

    async def latest_month(self) -> int | None:
        return await self.conn.fetchval("SELECT month FROM watermark")

    async def latest_month_with(self, kind: str) -> int | None:
        return await self.conn.fetchval("SELECT max(month) FROM monthly_counts WHERE kind = $1", kind)

    async def take_flusher_lock(self, key: str) -> bool:
        """The transaction-scoped advisory lock only one flusher holds at a time; False when another has it."""
        return await self.conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", key)

    async def read_dirty(self, limit: int) -> list[asyncpg.Record]:
        """The first `limit` dirty cells, each with its row version (`xmin`: the transaction that last marked it).

        Read without locking, so the consumer keeps marking cells while the flusher computes their figures.
        """
        return await self.conn.fetch(
            """
            SELECT family, service, month, last_event_at, xmin::text::bigint AS version
            FROM dirty_cells ORDER BY month, family, service LIMIT $1
            """,
            limit,
        )

    async def clear_dirty(self, cells: Sequence[asyncpg.Record]) -> None:
        """Delete the cells read by `read_dirty` that nobody has marked again since (same row version).

        A cell marked again meanwhile (committed: a new version; or being marked now: locked, skipped) stays
        dirty, so its figures are computed once more from counters that include its change. Never waiting on
        a row the consumer holds, the flusher cannot deadlock with it.
        """
        await self.conn.execute(_CLEAR_DIRTY, *_cell_columns(cells))

    async def publish(
        self, figures: Sequence[tuple], messages: Sequence[OutboxRow], cells: Sequence[asyncpg.Record],
        channel_prefix: str,
    ) -> None:
        """The end of a flush, in one statement: record the figures published (rows: theme, measure, question_id,
        category, service, window, period_end, count, denominator, rate), queue their messages in the outbox
        (in order; the relay is notified at commit) and clear the cells (as `clear_dirty` does)."""
        figure_columns = [list(c) for c in zip(*figures, strict=True)] if figures else [[] for _ in range(10)]
        message_columns = [list(c) for c in zip(*messages, strict=True)] if messages else [[] for _ in range(5)]
        await self.conn.execute(
            f"""
            WITH cleared AS ({_CLEAR_DIRTY}),
            recorded AS (
                INSERT INTO published_figures
                    (theme, measure, question_id, category, service, window_months, period_end, count, denominator, rate)
                SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::int[],
                                     $12::bigint[], $13::bigint[], $14::float8[])
                ON CONFLICT (service, window_months, period_end, measure, theme, question_id, category)
                DO UPDATE SET count = EXCLUDED.count, denominator = EXCLUDED.denominator, rate = EXCLUDED.rate,
                              published_at = now()
            ),
            queued AS (
                INSERT INTO outbox (event_id, topic, key, event_type, body)
                SELECT * FROM unnest($15::uuid[], $16::text[], $17::text[], $18::text[], $19::bytea[])
                ON CONFLICT (event_id) DO NOTHING
            )
            SELECT pg_notify($20 || current_schema(), '') WHERE cardinality($15::uuid[]) > 0
            """,
            *_cell_columns(cells), *figure_columns, *message_columns, channel_prefix,
        )

    async def advance_watermark(self, month: int) -> int:
        return await self.conn.fetchval(
            """
            INSERT INTO watermark (id, month) VALUES (true, $1)
            ON CONFLICT (id) DO UPDATE SET month = greatest(watermark.month, EXCLUDED.month)
            RETURNING month
            """,
            month,
        )

    async def published_many(self, wanted: Iterable[tuple[str, str, int, int]]) -> dict[tuple, Published]:
        """The values last published for many (scope, measure, window, period end) at once, by figure key."""
        scopes, measures, windows, ends = [], [], [], []
        for scope, measure, window, end in wanted:
            scopes.append(scope)
            measures.append(measure)
            windows.append(window)
            ends.append(end)
        if not scopes:
            return {}
        rows = await self.conn.fetch(
            """
            SELECT theme, measure, question_id, category, service, window_months, period_end, count, denominator, rate
            FROM published_figures
            WHERE (service, measure, window_months, period_end) IN (
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]))
            """,
            scopes, measures, windows, ends,
        )
        return {
            (r["theme"], r["measure"], r["question_id"], r["category"], r["service"], r["window_months"], r["period_end"]):
            Published(r["count"], r["denominator"], r["rate"])
            for r in rows
        }

    async def reset_state(self, consumer: str) -> None:
        """Empty every table the figures are built from (for a replay from offset zero)."""
        await self.conn.execute(f"TRUNCATE {', '.join(STATE_TABLES)}")
        await self.conn.execute("DELETE FROM processed_events WHERE consumer = $1", consumer)

    async def snapshot(self) -> list[tuple]:
        """Every counter, in a fixed order: two snapshots are equal iff the figures are."""
        return [tuple(r) for r in await self.conn.fetch(
            "SELECT kind, service, month, theme, k1, k2, n FROM monthly_counts WHERE n <> 0 "
            "ORDER BY kind, service, month, theme, k1, k2"
        )]
