"""The monthly audit sample: allocations to auditors, reallocations, and the run command."""

from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints

from qaf_shared.envelope import Month, OpaqueId, Payload
from qaf_shared.topics import ALLOCATION_COMMANDS, ALLOCATIONS
from qaf_shared.vocabulary import Service

# Explanations are generated from codes and ids by the allocation service, never typed by people.
Explanation = Annotated[str, StringConstraints(max_length=500)]


class AllocationRunRequested(
    Payload, event_type="allocation-run-requested", topic=ALLOCATION_COMMANDS, key_field="month"
):
    """Command: draw the audit sample for a month (imperative; consumed by allocation)."""

    month: Month
    as_of: date
    requested_by: OpaqueId
    redraw: bool = False


class AuditAllocated(Payload, event_type="audit-allocated", topic=ALLOCATIONS, key_field="audit_id"):
    audit_id: OpaqueId
    case_id: OpaqueId
    service: Service
    team_id: OpaqueId
    auditor_id: OpaqueId
    lead_auditor_id: OpaqueId
    month: Month
    due_on: date
    draw_id: OpaqueId
    template_id: OpaqueId = "light-touch"
    team_manager_id: OpaqueId | None = Field(
        default=None, description="Manager responsible for the case: where practice concerns go."
    )
    explanation: Explanation


class AuditReallocated(
    Payload, event_type="audit-reallocated", topic=ALLOCATIONS, key_field="audit_id"
):
    audit_id: OpaqueId
    case_id: OpaqueId
    service: Service
    previous_auditor_id: OpaqueId
    auditor_id: OpaqueId
    lead_auditor_id: OpaqueId
    due_on: date
    explanation: Explanation
