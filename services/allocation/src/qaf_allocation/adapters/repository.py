"""PostgreSQL repository of the allocation service: the cases, the roster, draws and completions over one
connection (the unit of work's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from qaf_shared.errors import Conflict
from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation.domain.model import (
    Absence,
    Auditor,
    Case,
    DrawRecord,
    DrawResult,
    RecordedDraw,
    RecordedMove,
    Shortfall,
    StoredAllocation,
)
from qaf_allocation.domain.reallocation import HeldAudit, Move

_CASE_COLUMNS = ("case_id, service, team_id, worker_id, team_manager_id, legal_status, opened_on, closed_on, "
                 "state_at, opened_at, closed_at")
_DRAW_RECORD_COLUMNS = ("draw_id, month, seq, as_of, seed, requested_by, trigger, created_at, superseded_at, "
                        "superseded_by")


class Repository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    # -------------------------------------------------------------- cases

    async def get_case(self, case_id: str, *, for_update: bool = False) -> Case | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = $1{lock}", case_id)
        return _case(row) if row else None

    async def case_service(self, case_id: str) -> str | None:
        return await self._conn.fetchval("SELECT service FROM cases WHERE case_id = $1", case_id)

    async def save_case(self, case: Case) -> None:
        await self._conn.execute(
            f"""
            INSERT INTO cases ({_CASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (case_id) DO UPDATE SET
                service = EXCLUDED.service, team_id = EXCLUDED.team_id, worker_id = EXCLUDED.worker_id,
                team_manager_id = EXCLUDED.team_manager_id, legal_status = EXCLUDED.legal_status,
                opened_on = EXCLUDED.opened_on, closed_on = EXCLUDED.closed_on, state_at = EXCLUDED.state_at,
                opened_at = EXCLUDED.opened_at, closed_at = EXCLUDED.closed_at, updated_at = now()
            """,
            case.case_id, case.service.value, case.team_id, case.worker_id, case.team_manager_id,
            case.legal_status.value, case.opened_on, case.closed_on, case.state_at, case.opened_at, case.closed_at,
        )

    async def open_population(self, window_start: date, as_of: date) -> list[Case]:
        """Cases open at some point between `window_start` and `as_of`."""
        rows = await self._conn.fetch(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE opened_on <= $2 AND (closed_on IS NULL OR closed_on >= $1)",
            window_start, as_of,
        )
        return [_case(r) for r in rows]

    async def open_counts(self, window_start: date, as_of: date) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT service, count(*) AS n FROM cases WHERE opened_on <= $2 AND (closed_on IS NULL OR closed_on >= $1) "
            "GROUP BY service", window_start, as_of,
        )
        return {r["service"]: r["n"] for r in rows}

    async def case_count(self) -> int:
        return await self._conn.fetchval("SELECT count(*) FROM cases")

    # -------------------------------------------------------------- roster

    async def lock_roster(self) -> None:
        """Serialise roster changes, so the one-lead-per-service check sees every other change."""
        await self._conn.execute("LOCK TABLE auditors IN SHARE ROW EXCLUSIVE MODE")

    async def roster(self) -> list[Auditor]:
        rows = await self._conn.fetch(
            "SELECT auditor_id, service, manages_teams, is_lead, capacity, active FROM auditors ORDER BY auditor_id"
        )
        absences: dict[str, list[Absence]] = {}
        for row in await self._conn.fetch("SELECT auditor_id, starts_on, ends_on FROM absences ORDER BY starts_on"):
            absences.setdefault(row["auditor_id"], []).append(Absence(row["starts_on"], row["ends_on"]))
        return [
            Auditor(r["auditor_id"], Service(r["service"]), frozenset(r["manages_teams"]), r["is_lead"],
                    r["capacity"], tuple(absences.get(r["auditor_id"], ())), r["active"])
            for r in rows
        ]

    async def save_auditor(self, auditor: Auditor) -> bool:
        """Create or replace an auditor and their absences. Returns True when created."""
        with _conflicts():
            created = await self._conn.fetchval(
                """
                INSERT INTO auditors (auditor_id, service, manages_teams, is_lead, capacity, active)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (auditor_id) DO UPDATE SET service = EXCLUDED.service,
                    manages_teams = EXCLUDED.manages_teams, is_lead = EXCLUDED.is_lead, capacity = EXCLUDED.capacity,
                    active = EXCLUDED.active, updated_at = now()
                RETURNING (xmax = 0)
                """,
                auditor.auditor_id, auditor.service.value, sorted(auditor.manages_teams), auditor.is_lead,
                auditor.capacity, auditor.active,
            )
            await self._conn.execute("DELETE FROM absences WHERE auditor_id = $1", auditor.auditor_id)
            await self._conn.executemany(
                "INSERT INTO absences (auditor_id, starts_on, ends_on) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [(auditor.auditor_id, a.starts_on, a.ends_on) for a in auditor.absences],
            )
        return bool(created)

    async def make_lead(self, service: Service, auditor_id: str) -> None:
        """`auditor_id` becomes the only lead of `service`."""
        with _conflicts():
            await self._conn.execute(
                "UPDATE auditors SET is_lead = false, updated_at = now() WHERE service = $1 AND is_lead",
                service.value)
            await self._conn.execute(
                "UPDATE auditors SET is_lead = true, updated_at = now() WHERE auditor_id = $1", auditor_id)

    # -------------------------------------------------------------- draws

    async def lock_month(self, month: str) -> None:
        """Serialise runs of one month across requests, the scheduler, commands and instances."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"allocation-run:{month}")

    async def current_draw_id(self, month: str) -> str | None:
        return await self._conn.fetchval(
            "SELECT draw_id FROM draws WHERE month = $1 AND superseded_at IS NULL", month)

    async def drawn_months(self) -> set[str]:
        return {r["month"] for r in await self._conn.fetch("SELECT DISTINCT month FROM draws")}

    async def next_seq(self, month: str) -> int:
        return await self._conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM draws WHERE month = $1", month)

    async def completed_in_draw(self, draw_id: str) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT a.audit_id FROM allocations a JOIN completions c USING (audit_id) WHERE a.draw_id = $1 "
            "ORDER BY a.audit_id", draw_id,
        )
        return [r["audit_id"] for r in rows]

    async def recently_audited(self, first_month: str, last_month: str, completed_since: date,
                               as_of: date) -> set[str]:
        """Cases allocated in months first..last (not withdrawn), or completed since `completed_since`."""
        rows = await self._conn.fetch(
            """
            SELECT case_id FROM allocations WHERE NOT withdrawn AND month BETWEEN $1 AND $2
            UNION
            SELECT case_id FROM completions WHERE completed_at::date > $3 AND completed_at::date <= $4
            """,
            first_month, last_month, completed_since, as_of,
        )
        return {r["case_id"] for r in rows}

    async def loads_by_auditor(self, first_month: str, last_month: str) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT auditor_id, count(*) AS n FROM allocations WHERE NOT withdrawn AND month BETWEEN $1 AND $2 "
            "GROUP BY auditor_id", first_month, last_month,
        )
        return {r["auditor_id"]: r["n"] for r in rows}

    async def supersede(self, draw_id: str, by: str) -> None:
        await self._conn.execute(
            "UPDATE draws SET superseded_at = now(), superseded_by = $2 WHERE draw_id = $1", draw_id, by)
        await self._conn.execute("UPDATE allocations SET withdrawn = true WHERE draw_id = $1", draw_id)

    async def insert_draw(self, draw_id: str, seq: int, result: DrawResult, *, settings: dict[str, int],
                          requested_by: str, trigger: str) -> None:
        with _conflicts():
            await self._conn.execute(
                """
                INSERT INTO draws (draw_id, month, seq, as_of, seed, settings, requested_by, trigger, requested,
                                   target, quotas, open_by_service, shortfall, stats)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                """,
                draw_id, result.month, seq, result.as_of, result.seed, orjson.dumps(settings).decode(), requested_by,
                trigger, result.requested, result.target,
                orjson.dumps({s.value: n for s, n in result.quotas.items()}).decode(),
                orjson.dumps({s.value: n for s, n in result.open_by_service.items()}).decode(),
                orjson.dumps([
                    {"code": s.code, "message": s.message, "service": s.service.value if s.service else None,
                     "case_id": s.case_id, "count": s.count} for s in result.shortfall
                ]).decode(),
                orjson.dumps(result.stats).decode(),
            )
            await self._conn.executemany(
                """
                INSERT INTO allocations (audit_id, draw_id, month, case_id, service, team_id, team_manager_id,
                                         worker_id, auditor_id, original_auditor_id, lead_auditor_id, due_on,
                                         draw_position, stratum_position, explanation)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14)
                """,
                [(a.audit_id, draw_id, a.month, a.case_id, a.service.value, a.team_id, a.team_manager_id,
                  a.worker_id, a.auditor_id, a.lead_auditor_id, a.due_on, a.draw_position, a.stratum_position,
                  a.explanation)
                 for a in result.allocations],
            )

    async def recorded_draw(self, draw_id: str) -> RecordedDraw:
        row = await self._conn.fetchrow("SELECT * FROM draws WHERE draw_id = $1", draw_id)
        allocations = await self._conn.fetch(
            """
            SELECT a.*, c.audit_id IS NOT NULL AS completed FROM allocations a
            LEFT JOIN completions c USING (audit_id) WHERE a.draw_id = $1 ORDER BY a.draw_position
            """, draw_id,
        )
        moves = await self._conn.fetch(
            """
            SELECT r.audit_id, r.previous_auditor_id, r.auditor_id, r.effective_on, r.explanation
            FROM reallocations r JOIN allocations a USING (audit_id) WHERE a.draw_id = $1 ORDER BY r.id
            """, draw_id,
        )
        history: dict[str, list[RecordedMove]] = {}
        for m in moves:
            history.setdefault(m["audit_id"], []).append(
                RecordedMove(m["previous_auditor_id"], m["auditor_id"], m["effective_on"], m["explanation"]))
        return RecordedDraw(
            record=_draw_record(row),
            settings=_json(row["settings"]),
            requested=row["requested"],
            quotas=_json(row["quotas"]),
            open_by_service=_json(row["open_by_service"]),
            shortfall=[_shortfall(s) for s in _json(row["shortfall"])],
            stats=_json(row["stats"]),
            allocations=[_stored_allocation(a, tuple(history.get(a["audit_id"], ()))) for a in allocations],
        )

    async def month_history(self, month: str) -> list[DrawRecord]:
        rows = await self._conn.fetch(
            f"SELECT {_DRAW_RECORD_COLUMNS} FROM draws WHERE month = $1 ORDER BY seq", month)
        return [_draw_record(r) for r in rows]

    # -------------------------------------------------------------- reallocation

    async def held_audits(self, auditor_id: str, due_from: date) -> list[HeldAudit]:
        """Open audits of an auditor (not withdrawn, not completed) due on or after `due_from`, with the
        case as it stands now (or as it stood when drawn, if the case is no longer known)."""
        rows = await self._conn.fetch(
            f"""
            SELECT a.audit_id, a.month, a.due_on, a.auditor_id, a.lead_auditor_id,
                   a.case_id AS a_case_id, a.service AS a_service, a.team_id AS a_team_id,
                   a.worker_id AS a_worker_id, a.team_manager_id AS a_team_manager_id,
                   {", ".join("c." + col.strip() for col in _CASE_COLUMNS.split(","))}
            FROM allocations a LEFT JOIN cases c ON c.case_id = a.case_id
            WHERE a.auditor_id = $1 AND NOT a.withdrawn AND a.due_on >= $2
              AND NOT EXISTS (SELECT 1 FROM completions x WHERE x.audit_id = a.audit_id)
            FOR UPDATE OF a
            """,
            auditor_id, due_from,
        )
        out = []
        for r in rows:
            if r["case_id"] is not None:
                case = _case(r)
            else:
                case = Case(r["a_case_id"], Service(r["a_service"]), r["a_team_id"], r["a_worker_id"],
                            r["a_team_manager_id"], LegalStatus.OTHER, r["due_on"], None, None, None)  # type: ignore[arg-type]
            out.append(HeldAudit(r["audit_id"], case, r["month"], r["due_on"], r["auditor_id"], r["lead_auditor_id"]))
        return out

    async def month_loads(self, months: set[str]) -> dict[str, dict[str, int]]:
        rows = await self._conn.fetch(
            "SELECT month, auditor_id, count(*) AS n FROM allocations WHERE NOT withdrawn "
            "AND month = ANY($1::text[]) GROUP BY month, auditor_id", sorted(months),
        )
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["month"], {})[r["auditor_id"]] = r["n"]
        return out

    async def record_move(self, move: Move, effective_on: date) -> None:
        with _conflicts():
            await self._conn.execute(
                "UPDATE allocations SET auditor_id = $2, lead_auditor_id = $3 WHERE audit_id = $1",
                move.audit_id, move.auditor_id, move.lead_auditor_id)
            await self._conn.execute(
                "INSERT INTO reallocations (audit_id, previous_auditor_id, auditor_id, lead_auditor_id, "
                "effective_on, explanation) VALUES ($1, $2, $3, $4, $5, $6)",
                move.audit_id, move.previous_auditor_id, move.auditor_id, move.lead_auditor_id, effective_on,
                move.explanation,
            )

    async def reallocation_count(self, audit_id: str) -> int:
        return await self._conn.fetchval("SELECT count(*) FROM reallocations WHERE audit_id = $1", audit_id)

    # -------------------------------------------------------------- completions and the target

    async def record_completion(self, *, audit_id: str, case_id: str, service: str, auditor_id: str, month: str,
                                completed_at: datetime) -> None:
        await self._conn.execute(
            """
            INSERT INTO completions (audit_id, case_id, service, auditor_id, month, completed_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (audit_id) DO UPDATE SET case_id = EXCLUDED.case_id, service = EXCLUDED.service,
                auditor_id = EXCLUDED.auditor_id, month = EXCLUDED.month, completed_at = EXCLUDED.completed_at
            WHERE completions.completed_at < EXCLUDED.completed_at
            """,
            audit_id, case_id, service, auditor_id, month, completed_at,
        )

    async def year_counts(self, first_month: str, last_month: str
                          ) -> tuple[Counter[Service], Counter[Service], int]:
        allocated = await self._conn.fetch(
            "SELECT service, count(*) AS n FROM allocations WHERE NOT withdrawn AND month BETWEEN $1 AND $2 "
            "GROUP BY service", first_month, last_month,
        )
        completed = await self._conn.fetch(
            "SELECT service, count(*) AS n FROM completions WHERE month BETWEEN $1 AND $2 GROUP BY service",
            first_month, last_month,
        )
        months = await self._conn.fetchval(
            "SELECT count(DISTINCT month) FROM draws WHERE month BETWEEN $1 AND $2", first_month, last_month)
        return (Counter({Service(r["service"]): r["n"] for r in allocated}),
                Counter({Service(r["service"]): r["n"] for r in completed}), months)


@contextmanager
def _conflicts() -> Iterator[None]:
    """A concurrent change that won the race is a conflict the caller can retry, not a failure."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"conflicting change: {exc.detail or exc}") from None


def _case(row: asyncpg.Record) -> Case:
    return Case(row["case_id"], Service(row["service"]), row["team_id"], row["worker_id"], row["team_manager_id"],
                LegalStatus(row["legal_status"]), row["opened_on"], row["closed_on"], row["state_at"],
                row["opened_at"], row["closed_at"])


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def _draw_record(row: asyncpg.Record) -> DrawRecord:
    return DrawRecord(row["draw_id"], row["month"], row["seq"], row["as_of"], row["seed"], row["requested_by"],
                      row["trigger"], row["created_at"], row["superseded_at"], row["superseded_by"])


def _shortfall(item: dict[str, Any]) -> Shortfall:
    service = Service(item["service"]) if item["service"] else None
    return Shortfall(item["code"], item["message"], service, item["case_id"], item["count"])


def _stored_allocation(row: asyncpg.Record, reallocations: tuple[RecordedMove, ...]) -> StoredAllocation:
    return StoredAllocation(
        row["audit_id"], row["case_id"], Service(row["service"]), row["team_id"], row["team_manager_id"],
        row["auditor_id"], row["original_auditor_id"], row["lead_auditor_id"], row["due_on"], row["draw_position"],
        row["stratum_position"], row["explanation"], row["withdrawn"], row["completed"], reallocations)
