"""Every catalogue topic says how long the broker keeps it; the configs ensure_topics sends follow."""

from __future__ import annotations

import pytest

from qaf_shared import topics
from qaf_shared.kafka.admin import WantedTopic, corrected_overrides, creation_configs, wanted_topics
from qaf_shared.settings import KafkaSettings

FOREVER = -1
DAY_MS = 86_400 * 1000

# What replays and rebuilds read from offset zero, and the derived themes (see the catalogue's reasons)
KEPT_FOR_EVER = {
    "qaf.cases", "qaf.allocation-commands", "qaf.allocations", "qaf.audits", "qaf.escalations",
    "qaf.complaints", "qaf.themes", "qaf.actions", "qaf.board",
}


def test_every_catalogue_topic_has_an_explicit_retention() -> None:
    assert {t.name for t in topics.CATALOGUE} == KEPT_FOR_EVER
    assert {t.name: t.retention_ms for t in topics.CATALOGUE} == {name: FOREVER for name in KEPT_FOR_EVER}


def test_reportings_replay_inputs_keep_their_whole_history() -> None:
    from qaf_reporting.app import TOPICS

    assert {t.name for t in TOPICS} >= {"qaf.audits", "qaf.escalations", "qaf.complaints", "qaf.cases"}
    assert all(t.retention_ms == FOREVER for t in TOPICS)


@pytest.mark.parametrize(("days", "expected_ms"), [(None, 30 * DAY_MS), (7, 7 * DAY_MS)])
def test_dead_letter_twins_keep_the_configured_days(days: int | None, expected_ms: int) -> None:
    settings = KafkaSettings(topic_prefix="t1.", **({} if days is None else {"dlq_retention_days": days}))
    wanted = {t.name: t for t in wanted_topics(settings, (topics.AUDITS,))}
    assert wanted == {
        "t1.qaf.audits": WantedTopic("t1.qaf.audits", 6, FOREVER),
        "t1.qaf.audits.dlq": WantedTopic("t1.qaf.audits.dlq", 1, expected_ms),
    }


def test_a_topic_is_created_with_its_retention_next_to_the_common_configs() -> None:
    base = {"max.message.bytes": "2097152", "min.insync.replicas": "2"}
    assert creation_configs(WantedTopic("qaf.audits", 6, FOREVER), base) == {**base, "retention.ms": "-1"}
    # outside the catalogue (a benchmark's own topic): the broker's default applies
    assert creation_configs(WantedTopic("bench.baseline", 6, None), base) == base


def test_a_correction_sends_every_override_of_the_topic_and_none_when_nothing_differs() -> None:
    # AlterConfigs replaces all of a topic's overrides: the others must travel with retention.ms
    overrides = {"retention.ms": "3600000", "segment.ms": "600000"}
    assert corrected_overrides(overrides, FOREVER) == {"retention.ms": "-1", "segment.ms": "600000"}
    assert corrected_overrides({"segment.ms": "600000"}, FOREVER) == {"segment.ms": "600000", "retention.ms": "-1"}
    assert corrected_overrides({"retention.ms": "-1", "segment.ms": "600000"}, FOREVER) is None
