"""Small builders for the domain's values, and an in-memory repository for the use cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from qaf_shared.contracts.audits import PracticeConcernRaised
from qaf_shared.vocabulary import Grade, Service

from qaf_audits.adapters.template_files import packaged_templates
from qaf_audits.domain.audits import (
    AnswerEntry,
    Audit,
    AuditStatus,
    DomainEntry,
    Submission,
    ThemeEntry,
    ValidSubmission,
)
from qaf_audits.domain.moderation import GradePair
from qaf_audits.domain.templates import Template

ALLOCATED_AT = datetime(2013, 10, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2013, 10, 20, 12, 0, tzinfo=UTC)


def light_touch() -> Template:
    return next(t for t in packaged_templates() if t.id == "light-touch")


def audit(**changes) -> Audit:
    values = dict(
        audit_id="A-2013-10-001", case_id="C-1", service=Service.FIRST_RESPONSE, team_id="T-FR-1",
        auditor_id="M-1", lead_auditor_id="M-LEAD", team_manager_id="M-TM", template_id="light-touch",
        template_version=1, due_on=date(2013, 10, 31), allocated_at=ALLOCATED_AT, month="2013-10",
    )
    values.update(changes)
    return Audit(**values)


def submission(template: Template, *, grades: dict[str, str] | None = None, **changes) -> Submission:
    """A complete, valid submission: every domain graded good, every question answered yes."""
    grades = grades if grades is not None else {d.id: "good" for d in template.domains}
    values = dict(
        completed_at=datetime(2013, 10, 18, 15, 0, tzinfo=UTC),
        domains=[DomainEntry(d, g, evidence="notes on file") for d, g in grades.items()],
        answers=[AnswerEntry(q.id, "yes") for q in template.questions],
        social_worker_participated=True,
        parents_spoken_to=True,
        child_spoken_to=False,
    )
    values.update(changes)
    return Submission(**values)


class FakeRepository:
    """The Repository methods the use cases call, over dictionaries."""

    def __init__(self, *audits: Audit, templates: list[Template] | None = None) -> None:
        self.templates: dict[tuple[str, int], tuple[Template, str]] = {}
        for template in templates if templates is not None else packaged_templates():
            self.templates[(template.id, template.version)] = (template, "package")
        self.audits: dict[str, Audit] = {a.audit_id: a for a in audits}
        self.origins: dict[str, str] = {a.audit_id: "allocation" for a in audits}
        self.correlations: dict[str, UUID | None] = {a.audit_id: None for a in audits}
        self.completions: dict[str, dict[str, Any]] = {}
        self.concerns: dict[str, dict[str, Any]] = {}
        self.moderations: dict[str, dict[str, Any]] = {}
        self.moderation_grades: dict[str, dict[str, Grade]] = {}
        self.reallocations: list[tuple[str, str, str]] = []
        self.high_water: datetime | None = None

    # templates
    async def lock_template(self, template_id: str) -> None:
        pass

    async def get_template(self, template_id: str, version: int | None = None) -> Template | None:
        versions = sorted(v for (t, v) in self.templates if t == template_id)
        chosen = version if version is not None else (versions[-1] if versions else None)
        found = self.templates.get((template_id, chosen)) if chosen is not None else None
        return found[0] if found else None

    async def template_digest(self, template_id: str, version: int) -> str | None:
        found = self.templates.get((template_id, version))
        return found[0].digest if found else None

    async def latest_version(self, template_id: str) -> int | None:
        return max((v for (t, v) in self.templates if t == template_id), default=None)

    async def insert_template(self, template: Template, *, source: str, loaded_by: str | None = None) -> bool:
        if (template.id, template.version) in self.templates:
            return False
        self.templates[(template.id, template.version)] = (template, source)
        return True

    # audits
    async def get_audit(self, audit_id: str, *, for_update: bool = False) -> Audit | None:
        return self.audits.get(audit_id)

    async def get_audit_row(self, audit_id: str) -> dict[str, Any]:
        found = self.audits[audit_id]
        return {"audit_id": found.audit_id, "status": found.status.value, "origin": self.origins[audit_id]}

    async def insert_audit(self, audit: Audit, *, origin: str, correlation_id: UUID | None = None) -> bool:
        if audit.audit_id in self.audits:
            return False
        self.audits[audit.audit_id] = audit
        self.origins[audit.audit_id] = origin
        self.correlations[audit.audit_id] = correlation_id
        return True

    async def update_pending_allocation(self, audit: Audit) -> None:
        self.audits[audit.audit_id] = replace(
            self.audits[audit.audit_id], case_id=audit.case_id, service=audit.service, team_id=audit.team_id,
            auditor_id=audit.auditor_id, lead_auditor_id=audit.lead_auditor_id,
            team_manager_id=audit.team_manager_id, month=audit.month, due_on=audit.due_on,
        )

    async def correlation_of(self, audit_id: str) -> UUID | None:
        return self.correlations[audit_id]

    async def reallocate(self, audit_id: str, *, previous_auditor_id: str, auditor_id: str, lead_auditor_id: str,
                         due_on: date, occurred_at: datetime) -> None:
        self.audits[audit_id] = replace(self.audits[audit_id], auditor_id=auditor_id,
                                        lead_auditor_id=lead_auditor_id, due_on=due_on)
        self.reallocations.append((audit_id, previous_auditor_id, auditor_id))

    async def list_audits(self, *, auditor_id: str | None = None, visible_to: str | None = None,
                          status: str | None = None, overdue: bool | None = None,
                          month: str | None = None) -> list[dict[str, Any]]:
        return [
            {"audit_id": a.audit_id}
            for a in sorted(self.audits.values(), key=lambda a: (a.due_on, a.audit_id))
            if (auditor_id is None or a.auditor_id == auditor_id)
            and (visible_to is None or visible_to in (a.auditor_id, a.lead_auditor_id))
            and (status is None or a.status.value == status)
            and (overdue is None or a.overdue_flagged == overdue)
            and (month is None or a.month == month)
        ]

    # completions
    async def save_completion(self, audit: Audit, template_version: int, submission: ValidSubmission, *,
                              submitted_by: str, submitted_role: str) -> None:
        self.completions[audit.audit_id] = {
            "auditor_id": audit.auditor_id, "submitted_by": submitted_by, "submitted_role": submitted_role,
            "grades": submission.grades,
        }
        self.audits[audit.audit_id] = replace(audit, status=AuditStatus.COMPLETED, template_version=template_version)

    async def get_completion(self, audit_id: str) -> dict[str, Any] | None:
        return self.completions.get(audit_id)

    async def completed_grades(self, audit_id: str) -> dict[str, Grade]:
        return dict(self.completions[audit_id]["grades"])

    # practice concerns
    async def insert_concern(self, concern: PracticeConcernRaised) -> None:
        self.concerns[concern.concern_id] = {
            "concern_id": concern.concern_id, "team_manager_id": concern.team_manager_id,
            "service": concern.service.value, "acknowledged_at": None, "acknowledged_by": None, "response": None,
        }

    async def get_concern(self, concern_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        found = self.concerns.get(concern_id)
        return dict(found) if found else None

    async def list_concerns(self, *, manager_id: str | None = None, open_only: bool = False,
                            service: str | None = None) -> list[dict[str, Any]]:
        return [
            dict(c) for c in self.concerns.values()
            if (manager_id is None or c["team_manager_id"] == manager_id)
            and not (open_only and c["acknowledged_at"] is not None)
            and (service is None or c["service"] == service)
        ]

    async def acknowledge_concern(self, concern_id: str, *, by: str, at: datetime, response: str) -> None:
        self.concerns[concern_id].update(acknowledged_at=at, acknowledged_by=by, response=response)

    # overdue
    async def flag_overdue(self, as_of: date, *, limit: int = 1000) -> list[Audit]:
        due = sorted(
            (a for a in self.audits.values()
             if a.status is AuditStatus.PENDING and not a.overdue_flagged and a.due_on < as_of),
            key=lambda a: (a.due_on, a.audit_id),
        )[:limit]
        for found in due:
            self.audits[found.audit_id] = replace(found, overdue_flagged=True)
        return due

    # event clock
    async def advance_clock(self, occurred_at: datetime) -> None:
        self.high_water = max(self.high_water or occurred_at, occurred_at)

    async def clock_high_water(self) -> datetime | None:
        return self.high_water

    # moderation
    async def insert_moderation_sample(self, audit_id: str, *, sample_point: float, share: float, seed: str) -> None:
        self.moderations[audit_id] = {"audit_id": audit_id, "moderator_id": None, "moderated_at": None}

    async def get_moderation(self, audit_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        found = self.moderations.get(audit_id)
        return dict(found) if found else None

    async def save_moderation(self, audit_id: str, *, moderator_id: str, grades: dict[str, Grade],
                              at: datetime) -> None:
        self.moderations[audit_id].update(moderator_id=moderator_id, moderated_at=at)
        self.moderation_grades[audit_id] = dict(grades)

    async def moderation_queue(self, *, exclude_auditor: str | None = None) -> list[dict[str, Any]]:
        return [
            {"audit_id": audit_id} for audit_id, m in sorted(self.moderations.items())
            if m["moderated_at"] is None and self.completions[audit_id]["auditor_id"] != exclude_auditor
        ]

    async def grade_pairs(self, *, month: str | None = None, service: str | None = None) -> list[GradePair]:
        return [
            GradePair(audit_id, self.completions[audit_id]["auditor_id"], domain,
                      self.completions[audit_id]["grades"][domain], grade)
            for audit_id, grades in sorted(self.moderation_grades.items())
            if (month is None or self.audits[audit_id].month == month)
            and (service is None or self.audits[audit_id].service.value == service)
            for domain, grade in grades.items()
        ]


__all__ = ["ALLOCATED_AT", "NOW", "AnswerEntry", "DomainEntry", "FakeRepository", "ThemeEntry", "audit", "light_touch",
           "submission"]
