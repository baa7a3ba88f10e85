"""CPA/IRO escalations (dispute resolution) and the complaints desk."""

from datetime import date

from qaf_shared.envelope import OpaqueId, Payload
from qaf_shared.topics import COMPLAINTS, ESCALATIONS
from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStage,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Service,
    Theme,
)


class EscalationRaised(
    Payload, event_type="escalation-raised", topic=ESCALATIONS, key_field="escalation_id"
):
    escalation_id: OpaqueId
    case_id: OpaqueId
    service: Service
    raised_by_role: EscalationRole
    raised_by_id: OpaqueId
    reason: EscalationReason
    theme: Theme
    stage: EscalationStage
    addressed_to_team_id: OpaqueId
    addressed_to_manager_id: OpaqueId
    raised_on: date
    due_on: date


class EscalationProgressed(
    Payload, event_type="escalation-progressed", topic=ESCALATIONS, key_field="escalation_id"
):
    escalation_id: OpaqueId
    service: Service
    reason: EscalationReason
    theme: Theme
    from_stage: EscalationStage
    to_stage: EscalationStage
    addressed_to_manager_id: OpaqueId
    progressed_on: date
    due_on: date


class EscalationResolved(
    Payload, event_type="escalation-resolved", topic=ESCALATIONS, key_field="escalation_id"
):
    escalation_id: OpaqueId
    service: Service
    reason: EscalationReason
    theme: Theme
    stage: EscalationStage
    outcome: EscalationOutcome
    resolved_on: date
    within_timescale: bool


class EscalationOverdue(
    Payload, event_type="escalation-overdue", topic=ESCALATIONS, key_field="escalation_id"
):
    escalation_id: OpaqueId
    service: Service
    reason: EscalationReason
    theme: Theme
    stage: EscalationStage
    due_on: date


class ComplaintLogged(
    Payload, event_type="complaint-logged", topic=COMPLAINTS, key_field="complaint_id"
):
    """A complaint received, or escalated to a further stage (then `stage` is the new stage)."""

    complaint_id: OpaqueId
    case_id: OpaqueId | None = None
    service: Service
    category: ComplaintCategory
    theme: Theme
    stage: ComplaintStage
    received_on: date
    due_on: date


class ComplaintResolved(
    Payload, event_type="complaint-resolved", topic=COMPLAINTS, key_field="complaint_id"
):
    complaint_id: OpaqueId
    service: Service
    category: ComplaintCategory
    theme: Theme
    stage: ComplaintStage
    outcome: ComplaintOutcome
    resolved_on: date
    within_timescale: bool
