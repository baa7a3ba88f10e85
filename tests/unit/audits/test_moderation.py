"""The moderation sample and agreement between auditors and moderators."""

from __future__ import annotations

import pytest

from qaf_shared.vocabulary import Grade

from qaf_audits.domain.moderation import GradePair, ModerationInvalid, agreement, is_sampled, validate_regrading

G, RI, INAD, OUTS = Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE, Grade.OUTSTANDING


def test_the_sample_is_deterministic_and_close_to_the_share() -> None:
    ids = [f"A-2013-{m:02d}-{n:03d}" for m in range(1, 13) for n in range(1, 51)]
    first = [i for i in ids if is_sampled(i, share=0.10, seed="s")]
    assert first == [i for i in ids if is_sampled(i, share=0.10, seed="s")]
    assert 40 <= len(first) <= 80  # 10% of 600, give or take chance
    assert set(first) != {i for i in ids if is_sampled(i, share=0.10, seed="another seed")}


def test_a_larger_share_keeps_everything_a_smaller_share_sampled() -> None:
    ids = [f"A-{n}" for n in range(500)]
    small = {i for i in ids if is_sampled(i, share=0.05, seed="s")}
    large = {i for i in ids if is_sampled(i, share=0.25, seed="s")}
    assert small < large
    assert all(is_sampled(i, share=1.0, seed="s") for i in ids)
    assert not any(is_sampled(i, share=0.0, seed="s") for i in ids)


def test_the_moderator_grades_exactly_the_domains_the_auditor_graded() -> None:
    original = {"assessment": G, "planning": RI}
    assert validate_regrading(original, [("assessment", "good"), ("planning", "inadequate")]) == {
        "assessment": G, "planning": INAD,
    }
    with pytest.raises(ModerationInvalid) as refused:
        validate_regrading(original, [("assessment", "great"), ("recording", "good")])
    assert {(e.field, e.message) for e in refused.value.errors} == {
        ("grades[0].grade", "'great' is not on the four-point scale"),
        ("grades[1].domain", "'recording' was not graded in this audit"),
        ("grades", "domain 'planning' must be graded"),
    }


def test_agreement_is_reported_per_domain_and_per_auditor() -> None:
    pairs = [
        GradePair("A-1", "M-1", "assessment", G, G),
        GradePair("A-1", "M-1", "planning", RI, INAD),
        GradePair("A-2", "M-2", "assessment", OUTS, RI),
        GradePair("A-2", "M-2", "planning", RI, RI),
    ]
    report = agreement(pairs).as_dict()
    assert report["moderated_audits"] == 2
    assert report["overall"]["compared"] == 4 and report["overall"]["agreed"] == 2
    assert report["by_domain"]["assessment"] == {
        "compared": 2, "agreed": 1, "agreement_rate": 0.5, "within_one_grade": 1, "within_one_rate": 0.5,
        "moderator_harsher": 1, "moderator_kinder": 0,
    }
    assert report["by_domain"]["planning"]["within_one_rate"] == 1.0
    assert report["by_auditor"]["M-1"]["agreement_rate"] == 0.5
    assert report["by_auditor"]["M-2"]["moderator_harsher"] == 1


def test_no_moderations_give_no_rates() -> None:
    assert agreement([]).as_dict()["overall"]["agreement_rate"] is None
