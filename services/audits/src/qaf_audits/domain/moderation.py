"""Moderation: a share of completed audits is sampled for a second, independent grading.

The sample is deterministic: an audit is in it when a hash of (seed, audit id) falls below the
share, so the decision can be re-derived and explained, does not depend on the order audits are
completed in, and needs no stored random state. Agreement compares the moderator's grade with the
auditor's, per domain and per auditor: exact agreement, and agreement within one grade.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from qaf_shared.errors import FieldError, Invalid
from qaf_shared.vocabulary import Grade

from qaf_audits.domain.audits import GRADE_ORDER

DEFAULT_SHARE = 0.10


def sample_point(audit_id: str, seed: str) -> float:
    """Where the audit falls in [0, 1): the first 8 bytes of SHA-256(seed:audit_id)."""
    digest = hashlib.sha256(f"{seed}:{audit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_sampled(audit_id: str, *, share: float, seed: str) -> bool:
    if not 0.0 <= share <= 1.0:
        raise ValueError("the moderation share must be between 0 and 1")
    return sample_point(audit_id, seed) < share


class ModerationInvalid(Invalid):
    pass


def validate_regrading(original: Mapping[str, Grade], regrading: Iterable[tuple[str, str]]) -> dict[str, Grade]:
    """The moderator grades exactly the domains the auditor graded, on the same scale."""
    errors: list[FieldError] = []
    grades: dict[str, Grade] = {}
    seen: set[str] = set()
    for i, (domain, grade) in enumerate(regrading):
        if domain not in original:
            errors.append(FieldError(f"grades[{i}].domain", f"{domain!r} was not graded in this audit"))
            continue
        if domain in seen:
            errors.append(FieldError(f"grades[{i}].domain", f"{domain!r} is graded more than once"))
            continue
        seen.add(domain)
        if grade not in Grade._value2member_map_:
            errors.append(FieldError(f"grades[{i}].grade", f"{grade!r} is not on the four-point scale"))
        else:
            grades[domain] = Grade(grade)
    for domain in original:
        if domain not in seen:
            errors.append(FieldError("grades", f"domain {domain!r} must be graded"))
    if errors:
        raise ModerationInvalid(errors)
    return grades


@dataclass(frozen=True)
class GradePair:
    """One domain of one moderated audit: the auditor's grade and the moderator's."""

    audit_id: str
    auditor_id: str
    domain: str
    auditor_grade: Grade
    moderator_grade: Grade

    @property
    def distance(self) -> int:
        return abs(GRADE_ORDER.index(self.auditor_grade) - GRADE_ORDER.index(self.moderator_grade))


@dataclass
class Agreement:
    compared: int = 0
    agreed: int = 0
    within_one: int = 0
    moderator_harsher: int = 0  # the moderator graded worse than the auditor
    moderator_kinder: int = 0

    def add(self, pair: GradePair) -> None:
        self.compared += 1
        self.agreed += pair.distance == 0
        self.within_one += pair.distance <= 1
        moderator, auditor = GRADE_ORDER.index(pair.moderator_grade), GRADE_ORDER.index(pair.auditor_grade)
        self.moderator_harsher += moderator > auditor
        self.moderator_kinder += moderator < auditor

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "compared": self.compared,
            "agreed": self.agreed,
            "agreement_rate": round(self.agreed / self.compared, 4) if self.compared else None,
            "within_one_grade": self.within_one,
            "within_one_rate": round(self.within_one / self.compared, 4) if self.compared else None,
            "moderator_harsher": self.moderator_harsher,
            "moderator_kinder": self.moderator_kinder,
        }


@dataclass(frozen=True)
class AgreementReport:
    audits: int
    overall: Agreement
    by_domain: dict[str, Agreement]
    by_auditor: dict[str, Agreement]

    def as_dict(self) -> dict[str, object]:
        return {
            "moderated_audits": self.audits,
            "overall": self.overall.as_dict(),
            "by_domain": {k: v.as_dict() for k, v in sorted(self.by_domain.items())},
            "by_auditor": {k: v.as_dict() for k, v in sorted(self.by_auditor.items())},
        }


def agreement(pairs: Iterable[GradePair]) -> AgreementReport:
    overall = Agreement()
    by_domain: dict[str, Agreement] = defaultdict(Agreement)
    by_auditor: dict[str, Agreement] = defaultdict(Agreement)
    audits: set[str] = set()
    for pair in pairs:
        audits.add(pair.audit_id)
        overall.add(pair)
        by_domain[pair.domain].add(pair)
        by_auditor[pair.auditor_id].add(pair)
    return AgreementReport(len(audits), overall, dict(by_domain), dict(by_auditor))
