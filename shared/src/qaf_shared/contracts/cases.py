"""Case lifecycle, published by the council's case systems. The latest by event time wins."""

from datetime import date

from qaf_shared.envelope import OpaqueId, Payload
from qaf_shared.topics import CASES
from qaf_shared.vocabulary import LegalStatus, Service


class CaseOpened(Payload, event_type="case-opened", topic=CASES, key_field="case_id"):
    case_id: OpaqueId
    service: Service
    team_id: OpaqueId
    worker_id: OpaqueId
    team_manager_id: OpaqueId
    legal_status: LegalStatus
    opened_on: date


class CaseUpdated(Payload, event_type="case-updated", topic=CASES, key_field="case_id"):
    """The case's current state in full (transfer, change of worker, change of plan)."""

    case_id: OpaqueId
    service: Service
    team_id: OpaqueId
    worker_id: OpaqueId
    team_manager_id: OpaqueId
    legal_status: LegalStatus


class CaseClosed(Payload, event_type="case-closed", topic=CASES, key_field="case_id"):
    case_id: OpaqueId
    closed_on: date
