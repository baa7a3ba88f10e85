"""The one mapping table from escalation reasons and complaint categories to theme codes (DESIGN §5).

Themes are the platform's shared vocabulary: reporting counts them, actions measure the action plan
against them. Where a reason or category stands for one of the eleven areas of the 2013-14 action
plan (Appendix 1) it maps onto that area's theme.
"""

from __future__ import annotations

from types import MappingProxyType

from qaf_shared.vocabulary import ComplaintCategory, EscalationReason, Theme

ESCALATION_REASON_THEMES = MappingProxyType(
    {
        # "Actions lack timeliness – resulting in drift and delay"
        EscalationReason.DRIFT_AND_DELAY: Theme.TIMELINESS_DRIFT,
        # a plan that is not progressed is drift against the child's plan
        EscalationReason.PLAN_NOT_PROGRESSED: Theme.TIMELINESS_DRIFT,
        # "Strategy meetings are frequently single agency ..."
        EscalationReason.STRATEGY_MEETING_NOT_HELD: Theme.STRATEGY_MEETINGS,
        # "The respective roles of the Child Protection Conference and the role of the Core Group ..."
        EscalationReason.CORE_GROUP_NOT_FUNCTIONING: Theme.CONFERENCE_CORE_GROUP_ROLES,
        # "Thresholds are not always consistently applied"
        EscalationReason.THRESHOLD_DISAGREEMENT: Theme.THRESHOLDS,
        EscalationReason.VISITS_NOT_DONE: Theme.VISITS,
        # "Lack of up to date chronologies on file"
        EscalationReason.CHRONOLOGY_NOT_UP_TO_DATE: Theme.CHRONOLOGIES,
        # "Father not routinely included in assessments and direct work"
        EscalationReason.FATHER_NOT_ENGAGED: Theme.FATHERS,
        # "Direction from supervision and management oversight not acting to drive the case forward"
        EscalationReason.SUPERVISION_NOT_DRIVING_PLAN: Theme.SUPERVISION,
        # "Case transfer points and changes of social worker ..."
        EscalationReason.TRANSFER_DELAYED: Theme.CASE_TRANSFER,
        # an escalation is itself professional challenge; with no more specific reason it counts there
        EscalationReason.OTHER: Theme.PROFESSIONAL_CHALLENGE,
    }
)

COMPLAINT_CATEGORY_THEMES = MappingProxyType(
    {
        # The action plan's "Responding to families in a timely manner" is measured by a
        # "Reduction in complaints about communication".
        ComplaintCategory.COMMUNICATION: Theme.RESPONSIVENESS_TO_FAMILIES,
        ComplaintCategory.DELAY: Theme.TIMELINESS_DRIFT,
        ComplaintCategory.CASE_TRANSFER: Theme.CASE_TRANSFER,
        ComplaintCategory.QUALITY_OF_SERVICE: Theme.QUALITY_OF_SERVICE,
        ComplaintCategory.STAFF_CONDUCT: Theme.STAFF_CONDUCT,
        ComplaintCategory.DECISION_DISAGREEMENT: Theme.DECISION_DISAGREEMENT,
        ComplaintCategory.OTHER: Theme.QUALITY_OF_SERVICE,
    }
)


def escalation_theme(reason: EscalationReason) -> Theme:
    return ESCALATION_REASON_THEMES[reason]


def complaint_theme(category: ComplaintCategory) -> Theme:
    return COMPLAINT_CATEGORY_THEMES[category]
