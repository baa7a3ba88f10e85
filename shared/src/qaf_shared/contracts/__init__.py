"""Every event contract of DESIGN §4. Importing this package registers them all."""

from qaf_shared.contracts.actions import (
    ActionMilestoneUpdated,
    BoardDigestIssued,
    DriftCleared,
    DriftFlagged,
)
from qaf_shared.contracts.allocation import AllocationRunRequested, AuditAllocated, AuditReallocated
from qaf_shared.contracts.audits import (
    AuditCompleted,
    AuditOverdue,
    DomainGrade,
    IndicatorAnswer,
    PracticeConcernRaised,
    ThemeFinding,
)
from qaf_shared.contracts.cases import CaseClosed, CaseOpened, CaseUpdated
from qaf_shared.contracts.escalations import (
    ComplaintLogged,
    ComplaintResolved,
    EscalationOverdue,
    EscalationProgressed,
    EscalationRaised,
    EscalationResolved,
)
from qaf_shared.contracts.reporting import ThemeUpdated
from qaf_shared.envelope import REGISTRY

__all__ = [
    "REGISTRY",
    "ActionMilestoneUpdated",
    "AllocationRunRequested",
    "AuditAllocated",
    "AuditCompleted",
    "AuditOverdue",
    "AuditReallocated",
    "BoardDigestIssued",
    "CaseClosed",
    "CaseOpened",
    "CaseUpdated",
    "ComplaintLogged",
    "ComplaintResolved",
    "DomainGrade",
    "DriftCleared",
    "DriftFlagged",
    "EscalationOverdue",
    "EscalationProgressed",
    "EscalationRaised",
    "EscalationResolved",
    "IndicatorAnswer",
    "PracticeConcernRaised",
    "ThemeFinding",
    "ThemeUpdated",
]
