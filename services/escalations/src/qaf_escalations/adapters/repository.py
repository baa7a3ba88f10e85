"""PostgreSQL repository: loads and saves the aggregates, the cases known, notes and the event clock.

Every method works on the connection of the caller's transaction. Loading an aggregate `for_update`
locks its row until the transaction ends, so two requests (or a request and the overdue sweep)
never act on the same escalation or complaint at once.
"""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStage,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Service,
)

from qaf_escalations.domain.cases import KnownCase, Note
from qaf_escalations.domain.complaints import Complaint, Extension, ExtensionReason, StageRecord
from qaf_escalations.domain.escalations import Escalation, EscalationStatus, Step


class Repository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # --- cases --------------------------------------------------------------------------------

    async def upsert_case_state(
        self, *, case_id: str, service: str, team_id: str, team_manager_id: str, opened_on: date | None,
        at: datetime, reopens: bool,
    ) -> None:
        """Apply an opened/updated state if it is not older than the one held (latest by event time)."""
        await self.conn.execute(
            """
            INSERT INTO cases (case_id, service, team_id, team_manager_id, opened_on, state_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (case_id) DO UPDATE SET
                service = excluded.service, team_id = excluded.team_id,
                team_manager_id = excluded.team_manager_id,
                opened_on = COALESCE(excluded.opened_on, cases.opened_on),
                state_at = excluded.state_at
            WHERE cases.state_at IS NULL OR cases.state_at <= excluded.state_at
            """,
            case_id, service, team_id, team_manager_id, opened_on, at,
        )
        if reopens:  # a case opened again after an older closure is open
            await self.conn.execute(
                "UPDATE cases SET closed_on = NULL, closed_at = NULL WHERE case_id = $1 AND closed_at < $2",
                case_id, at,
            )

    async def close_case(self, *, case_id: str, closed_on: date, at: datetime) -> None:
        """Record a closure (a later case-opened reopens the case; a case-updated does not)."""
        await self.conn.execute(
            """
            INSERT INTO cases (case_id, closed_on, closed_at) VALUES ($1, $2, $3)
            ON CONFLICT (case_id) DO UPDATE SET closed_on = excluded.closed_on, closed_at = excluded.closed_at
            WHERE cases.closed_at IS NULL OR cases.closed_at <= excluded.closed_at
            """,
            case_id, closed_on, at,
        )

    async def get_case(self, case_id: str) -> KnownCase | None:
        row = await self.conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
        if row is None:
            return None
        return KnownCase(
            case_id=row["case_id"],
            service=Service(row["service"]) if row["service"] else None,
            team_id=row["team_id"],
            team_manager_id=row["team_manager_id"],
            opened_on=row["opened_on"],
            closed_on=row["closed_on"],
        )

    # --- event clock --------------------------------------------------------------------------

    async def advance_event_clock(self, day: date) -> None:
        await self.conn.execute(
            """
            INSERT INTO event_clock (singleton, latest_date) VALUES (true, $1)
            ON CONFLICT (singleton) DO UPDATE SET latest_date = GREATEST(event_clock.latest_date, excluded.latest_date)
            """,
            day,
        )

    async def event_clock(self) -> date | None:
        return await self.conn.fetchval("SELECT latest_date FROM event_clock")

    # --- notes --------------------------------------------------------------------------------

    async def add_note(self, kind: str, subject_id: str, action: str, on: date, author: str, note: str | None) -> None:
        if note:
            await self.conn.execute(
                "INSERT INTO notes (subject_kind, subject_id, action, on_date, author, note) VALUES ($1, $2, $3, $4, $5, $6)",
                kind, subject_id, action, on, author, note,
            )

    async def notes(self, kind: str, subject_id: str) -> list[Note]:
        rows = await self.conn.fetch(
            "SELECT action, on_date, author, note FROM notes WHERE subject_kind = $1 AND subject_id = $2 ORDER BY id",
            kind, subject_id,
        )
        return [Note(**r) for r in rows]

    # --- escalations --------------------------------------------------------------------------

    async def escalation_exists(self, escalation_id: str) -> bool:
        return bool(await self.conn.fetchval("SELECT 1 FROM escalations WHERE escalation_id = $1", escalation_id))

    async def get_escalation(self, escalation_id: str, *, for_update: bool = False) -> Escalation | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT * FROM escalations WHERE escalation_id = $1{lock}", escalation_id)
        if row is None:
            return None
        steps = await self.conn.fetch(
            "SELECT * FROM escalation_steps WHERE escalation_id = $1 ORDER BY seq", escalation_id
        )
        overdue = await self.conn.fetch("SELECT stage FROM escalation_overdue WHERE escalation_id = $1", escalation_id)
        return Escalation(
            escalation_id=row["escalation_id"],
            case_id=row["case_id"],
            service=Service(row["service"]),
            raised_by_role=EscalationRole(row["raised_by_role"]),
            raised_by_id=row["raised_by_id"],
            reason=EscalationReason(row["reason"]),
            addressed_to_team_id=row["addressed_to_team_id"],
            raised_on=row["raised_on"],
            steps=[
                Step(EscalationStage(s["stage"]), s["started_on"], s["due_on"], s["addressed_to_manager_id"],
                     s["ended_on"], s["ended_by"])
                for s in steps
            ],
            status=EscalationStatus(row["status"]),
            outcome=EscalationOutcome(row["outcome"]) if row["outcome"] else None,
            closed_on=row["closed_on"],
            within_timescale=row["within_timescale"],
            overdue_stages={EscalationStage(r["stage"]) for r in overdue},
        )

    async def save_escalation(self, e: Escalation) -> None:
        await self.conn.execute(
            """
            INSERT INTO escalations (escalation_id, case_id, service, raised_by_role, raised_by_id, reason, theme,
                                     addressed_to_team_id, raised_on, status, stage, due_on, outcome, closed_on,
                                     within_timescale)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (escalation_id) DO UPDATE SET
                status = excluded.status, stage = excluded.stage, due_on = excluded.due_on,
                outcome = excluded.outcome, closed_on = excluded.closed_on,
                within_timescale = excluded.within_timescale, updated_at = now()
            """,
            e.escalation_id, e.case_id, e.service.value, e.raised_by_role.value, e.raised_by_id, e.reason.value,
            e.theme.value, e.addressed_to_team_id, e.raised_on, e.status.value, e.stage.value, e.current.due_on,
            e.outcome.value if e.outcome else None, e.closed_on, e.within_timescale,
        )
        await self.conn.executemany(
            """
            INSERT INTO escalation_steps (escalation_id, seq, stage, started_on, due_on, addressed_to_manager_id,
                                          ended_on, ended_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (escalation_id, seq) DO UPDATE SET ended_on = excluded.ended_on, ended_by = excluded.ended_by
            """,
            [
                (e.escalation_id, seq, s.stage.value, s.started_on, s.due_on, s.addressed_to_manager_id, s.ended_on,
                 s.ended_by)
                for seq, s in enumerate(e.steps)
            ],
        )
        due_by_stage = {s.stage: s.due_on for s in e.steps}
        await self.conn.executemany(
            "INSERT INTO escalation_overdue (escalation_id, stage, due_on) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(e.escalation_id, stage.value, due_by_stage[stage]) for stage in e.overdue_stages],
        )

    async def open_escalations_due_before(self, as_of: date, limit: int = 500) -> list[str]:
        """Open escalations whose current stage's due date passed before `as_of` and was not yet reported."""
        rows = await self.conn.fetch(
            """
            SELECT e.escalation_id FROM escalations e
            WHERE e.status = 'open' AND e.due_on < $1
              AND NOT EXISTS (SELECT 1 FROM escalation_overdue o
                              WHERE o.escalation_id = e.escalation_id AND o.stage = e.stage)
            ORDER BY e.due_on, e.escalation_id
            LIMIT $2
            """,
            as_of, limit,
        )
        return [r["escalation_id"] for r in rows]

    async def list_escalations(
        self, *, status: str | None, case_id: str | None, service: str | None, limit: int, offset: int
    ) -> list[str]:
        rows = await self.conn.fetch(
            """
            SELECT escalation_id FROM escalations
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR case_id = $2)
              AND ($3::text IS NULL OR service = $3)
            ORDER BY raised_on, escalation_id LIMIT $4 OFFSET $5
            """,
            status, case_id, service, limit, offset,
        )
        return [r["escalation_id"] for r in rows]

    async def escalation_steps(
        self, *, started_from: date | None, started_to: date | None, service: str | None
    ) -> list[tuple[Service, Step, bool]]:
        rows = await self.conn.fetch(
            """
            SELECT e.service, s.*, (o.escalation_id IS NOT NULL) AS reported_overdue
            FROM escalation_steps s JOIN escalations e USING (escalation_id)
            LEFT JOIN escalation_overdue o ON o.escalation_id = s.escalation_id AND o.stage = s.stage
            WHERE ($1::date IS NULL OR s.started_on >= $1) AND ($2::date IS NULL OR s.started_on <= $2)
              AND ($3::text IS NULL OR e.service = $3)
            """,
            started_from, started_to, service,
        )
        return [
            (
                Service(r["service"]),
                Step(EscalationStage(r["stage"]), r["started_on"], r["due_on"], r["addressed_to_manager_id"],
                     r["ended_on"], r["ended_by"]),
                r["reported_overdue"],
            )
            for r in rows
        ]

    # --- complaints ---------------------------------------------------------------------------

    async def complaint_exists(self, complaint_id: str) -> bool:
        return bool(await self.conn.fetchval("SELECT 1 FROM complaints WHERE complaint_id = $1", complaint_id))

    async def get_complaint(self, complaint_id: str, *, for_update: bool = False) -> Complaint | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT * FROM complaints WHERE complaint_id = $1{lock}", complaint_id)
        if row is None:
            return None
        stages = await self.conn.fetch("SELECT * FROM complaint_stages WHERE complaint_id = $1", complaint_id)
        extensions = await self.conn.fetch(
            "SELECT * FROM complaint_extensions WHERE complaint_id = $1 ORDER BY stage, seq", complaint_id
        )
        records = sorted((self._stage_record(s) for s in stages), key=lambda r: list(ComplaintStage).index(r.stage))
        by_stage = {r.stage: r for r in records}
        for x in extensions:
            by_stage[ComplaintStage(x["stage"])].extensions.append(
                Extension(x["extended_on"], x["from_working_days"], x["to_working_days"], ExtensionReason(x["reason"]))
            )
        return Complaint(
            complaint_id=row["complaint_id"],
            case_id=row["case_id"],
            service=Service(row["service"]),
            category=ComplaintCategory(row["category"]),
            stages=records,
        )

    @staticmethod
    def _stage_record(s: asyncpg.Record) -> StageRecord:
        return StageRecord(
            stage=ComplaintStage(s["stage"]),
            received_on=s["received_on"],
            working_days=s["working_days"],
            due_on=s["due_on"],
            resolved_on=s["resolved_on"],
            outcome=ComplaintOutcome(s["outcome"]) if s["outcome"] else None,
            within_timescale=s["within_timescale"],
            escalated_on=s["escalated_on"],
        )

    async def save_complaint(self, c: Complaint) -> None:
        await self.conn.execute(
            """
            INSERT INTO complaints (complaint_id, case_id, service, category, theme) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (complaint_id) DO UPDATE SET updated_at = now()
            """,
            c.complaint_id, c.case_id, c.service.value, c.category.value, c.theme.value,
        )
        await self.conn.executemany(
            """
            INSERT INTO complaint_stages (complaint_id, stage, received_on, working_days, due_on, resolved_on,
                                          outcome, within_timescale, escalated_on)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (complaint_id, stage) DO UPDATE SET
                working_days = excluded.working_days, due_on = excluded.due_on, resolved_on = excluded.resolved_on,
                outcome = excluded.outcome, within_timescale = excluded.within_timescale,
                escalated_on = excluded.escalated_on
            """,
            [
                (c.complaint_id, r.stage.value, r.received_on, r.working_days, r.due_on, r.resolved_on,
                 r.outcome.value if r.outcome else None, r.within_timescale, r.escalated_on)
                for r in c.stages
            ],
        )
        await self.conn.executemany(
            """
            INSERT INTO complaint_extensions (complaint_id, stage, seq, extended_on, from_working_days,
                                              to_working_days, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
            """,
            [
                (c.complaint_id, r.stage.value, seq, x.extended_on, x.from_working_days, x.to_working_days,
                 x.reason.value)
                for r in c.stages
                for seq, x in enumerate(r.extensions)
            ],
        )

    async def list_complaints(
        self, *, service: str | None, case_id: str | None, limit: int, offset: int
    ) -> list[str]:
        rows = await self.conn.fetch(
            """
            SELECT complaint_id FROM complaints
            WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR case_id = $2)
            ORDER BY created_at, complaint_id LIMIT $3 OFFSET $4
            """,
            service, case_id, limit, offset,
        )
        return [r["complaint_id"] for r in rows]

    async def stage_records(
        self, *, received_from: date | None, received_to: date | None, service: str | None
    ) -> list[tuple[Service, StageRecord]]:
        rows = await self.conn.fetch(
            """
            SELECT c.service, s.* FROM complaint_stages s JOIN complaints c USING (complaint_id)
            WHERE ($1::date IS NULL OR s.received_on >= $1) AND ($2::date IS NULL OR s.received_on <= $2)
              AND ($3::text IS NULL OR c.service = $3)
            """,
            received_from, received_to, service,
        )
        extensions = await self.conn.fetch(
            """
            SELECT x.* FROM complaint_extensions x JOIN complaint_stages s USING (complaint_id, stage)
            JOIN complaints c USING (complaint_id)
            WHERE ($1::date IS NULL OR s.received_on >= $1) AND ($2::date IS NULL OR s.received_on <= $2)
              AND ($3::text IS NULL OR c.service = $3)
            ORDER BY x.seq
            """,
            received_from, received_to, service,
        )
        out = []
        by_key: dict[tuple[str, str], StageRecord] = {}
        for row in rows:
            record = self._stage_record(row)
            by_key[(row["complaint_id"], row["stage"])] = record
            out.append((Service(row["service"]), record))
        for x in extensions:
            by_key[(x["complaint_id"], x["stage"])].extensions.append(
                Extension(x["extended_on"], x["from_working_days"], x["to_working_days"], ExtensionReason(x["reason"]))
            )
        return out
