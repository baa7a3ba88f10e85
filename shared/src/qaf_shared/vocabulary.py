"""The shared vocabularies every contract speaks: services, themes, grades.

Codes are stable identifiers on the wire; labels are for people. Adding a member is a compatible
change; renaming or removing one is not.
"""

from enum import StrEnum


class Service(StrEnum):
    """The six services of Children and Families named in the council's report (§3.1.4)."""

    FIRST_RESPONSE = "first-response"
    SAFEGUARDING_AND_SUPPORT = "safeguarding-and-support"
    CHILDREN_IN_CARE = "children-in-care"
    DISABLED_CHILDREN = "disabled-children"
    FOSTERING_AND_ADOPTION = "fostering-and-adoption"
    SAFEGUARDING_AND_QA = "safeguarding-and-qa"

    @property
    def label(self) -> str:
        return SERVICE_LABELS[self]


SERVICE_LABELS: dict[Service, str] = {
    Service.FIRST_RESPONSE: "First Response",
    Service.SAFEGUARDING_AND_SUPPORT: "Safeguarding & Support",
    Service.CHILDREN_IN_CARE: "Children in Care",
    Service.DISABLED_CHILDREN: "Disabled Children",
    Service.FOSTERING_AND_ADOPTION: "Fostering & Adoption",
    Service.SAFEGUARDING_AND_QA: "Safeguarding & Quality Assurance",
}


class Theme(StrEnum):
    """One vocabulary for what audits find, escalations are about and complaints concern (DESIGN §5)."""

    # The eleven areas of risk/concern of the 2013-14 action plan (Appendix 1)
    STRATEGY_MEETINGS = "strategy-meetings"
    CHRONOLOGIES = "chronologies"
    TIMELINESS_DRIFT = "timeliness-drift"
    RESPONSIVENESS_TO_FAMILIES = "responsiveness-to-families"
    SUPERVISION = "supervision"
    CASE_TRANSFER = "case-transfer"
    PROFESSIONAL_CHALLENGE = "professional-challenge"
    THRESHOLDS = "thresholds"
    CONFERENCE_CORE_GROUP_ROLES = "conference-core-group-roles"
    FATHERS = "fathers"
    EARLY_HELP = "early-help"
    # Practice areas the audits report on (§3.1.5 and the light-touch template's domains)
    CHILDREN_IN_NEED = "children-in-need"
    DIRECT_WORK = "direct-work"
    RECORDING = "recording"
    MANAGEMENT_OVERSIGHT = "management-oversight"
    VOICE_OF_THE_CHILD = "voice-of-the-child"
    ASSESSMENT_QUALITY = "assessment-quality"
    PLANNING = "planning"
    REVIEW = "review"
    PERMANENCE = "permanence"
    MULTI_AGENCY_WORKING = "multi-agency-working"
    VISITS = "visits"
    SAFEGUARDING_RISK = "safeguarding-risk"
    # What complaints are about, beyond the areas above
    COMMUNICATION = "communication"
    QUALITY_OF_SERVICE = "quality-of-service"
    STAFF_CONDUCT = "staff-conduct"
    DECISION_DISAGREEMENT = "decision-disagreement"

    @property
    def is_action_plan_area(self) -> bool:
        return self in ACTION_PLAN_THEMES


ACTION_PLAN_THEMES: frozenset[Theme] = frozenset(
    {
        Theme.STRATEGY_MEETINGS,
        Theme.CHRONOLOGIES,
        Theme.TIMELINESS_DRIFT,
        Theme.RESPONSIVENESS_TO_FAMILIES,
        Theme.SUPERVISION,
        Theme.CASE_TRANSFER,
        Theme.PROFESSIONAL_CHALLENGE,
        Theme.THRESHOLDS,
        Theme.CONFERENCE_CORE_GROUP_ROLES,
        Theme.FATHERS,
        Theme.EARLY_HELP,
    }
)


class Grade(StrEnum):
    """The four-point Ofsted scale, best first."""

    OUTSTANDING = "outstanding"
    GOOD = "good"
    REQUIRES_IMPROVEMENT = "requires-improvement"
    INADEQUATE = "inadequate"


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_APPLICABLE = "not-applicable"


class Severity(StrEnum):
    """How strongly an audit found a theme: a strength, or an area for development of rising weight."""

    STRENGTH = "strength"
    MINOR = "minor"
    SIGNIFICANT = "significant"
    SERIOUS = "serious"


class LegalStatus(StrEnum):
    """The kind of plan or legal status a case is open under."""

    EARLY_HELP = "early-help"
    CHILD_IN_NEED = "child-in-need"
    CHILD_PROTECTION = "child-protection"
    LOOKED_AFTER = "looked-after"
    CARE_LEAVER = "care-leaver"
    ADOPTION = "adoption"
    ASSESSMENT = "assessment"
    OTHER = "other"


class EscalationRole(StrEnum):
    CPA = "cpa"  # Child Protection Advisor (conference chair)
    IRO = "iro"  # Independent Reviewing Officer


class EscalationStage(StrEnum):
    """Dispute resolution: informal first, then formal stages up the management line."""

    INFORMAL = "informal"
    TEAM_MANAGER = "team-manager"
    SERVICE_MANAGER = "service-manager"
    HEAD_OF_SERVICE = "head-of-service"
    DIRECTOR = "director"


class EscalationReason(StrEnum):
    DRIFT_AND_DELAY = "drift-and-delay"
    PLAN_NOT_PROGRESSED = "plan-not-progressed"
    STRATEGY_MEETING_NOT_HELD = "strategy-meeting-not-held"
    CORE_GROUP_NOT_FUNCTIONING = "core-group-not-functioning"
    THRESHOLD_DISAGREEMENT = "threshold-disagreement"
    VISITS_NOT_DONE = "visits-not-done"
    CHRONOLOGY_NOT_UP_TO_DATE = "chronology-not-up-to-date"
    FATHER_NOT_ENGAGED = "father-not-engaged"
    SUPERVISION_NOT_DRIVING_PLAN = "supervision-not-driving-plan"
    TRANSFER_DELAYED = "transfer-delayed"
    OTHER = "other"


class EscalationOutcome(StrEnum):
    RESOLVED = "resolved"
    PLAN_CHANGED = "plan-changed"
    REFERRED_ON = "referred-on"
    WITHDRAWN = "withdrawn"


class ComplaintCategory(StrEnum):
    COMMUNICATION = "communication"
    DELAY = "delay"
    QUALITY_OF_SERVICE = "quality-of-service"
    STAFF_CONDUCT = "staff-conduct"
    DECISION_DISAGREEMENT = "decision-disagreement"
    CASE_TRANSFER = "case-transfer"
    OTHER = "other"


class ComplaintStage(StrEnum):
    """The statutory three-stage representations procedure."""

    STAGE_1 = "stage-1"  # local resolution
    STAGE_2 = "stage-2"  # investigation
    STAGE_3 = "stage-3"  # review panel


class ComplaintOutcome(StrEnum):
    UPHELD = "upheld"
    PARTLY_UPHELD = "partly-upheld"
    NOT_UPHELD = "not-upheld"
    WITHDRAWN = "withdrawn"


class ConcernReason(StrEnum):
    INADEQUATE_GRADE = "inadequate-grade"
    SAFEGUARDING_CONCERN = "safeguarding-concern"


class MilestoneStatus(StrEnum):
    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    BLOCKED = "blocked"


class DriftKind(StrEnum):
    TREND = "trend"
    MILESTONE = "milestone"
    NO_EVIDENCE = "no-evidence"


class AreaStatus(StrEnum):
    ON_TRACK = "on-track"
    AT_RISK = "at-risk"
    DRIFTING = "drifting"
    NO_EVIDENCE = "no-evidence"
