"""The contracts refuse what they must: unknown fields, names where ids belong, wrong versions."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qaf_shared.contracts import REGISTRY, CaseOpened
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import ContractViolation, decode, new_envelope
from qaf_shared.topics import CATALOGUE


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
def test_every_contract_has_an_example_that_round_trips(event_type: str) -> None:
    envelope = new_envelope(EXAMPLES[event_type], source="test")
    assert decode(envelope.to_bytes(), expected_topic=envelope.topic.name) == envelope


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
def test_every_contract_lives_on_a_catalogued_topic_and_names_its_key(event_type: str) -> None:
    cls = REGISTRY[event_type]
    assert cls.TOPIC in CATALOGUE
    assert cls.KEY_FIELD in cls.model_fields
    assert cls.TOPIC.key == cls.KEY_FIELD


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
@given(field=st.from_regex(r"[a-z_]{1,20}", fullmatch=True))
def test_unknown_payload_fields_are_refused(event_type: str, field: str) -> None:
    cls = REGISTRY[event_type]
    if field in cls.model_fields:
        return
    body = new_envelope(EXAMPLES[event_type], source="test").model_dump(mode="json")
    body["payload"][field] = "anything"
    with pytest.raises(ContractViolation, match="Extra inputs are not permitted"):
        decode(orjson.dumps(body))


def test_unknown_envelope_fields_are_refused() -> None:
    body = new_envelope(EXAMPLES["case-opened"], source="test").model_dump(mode="json")
    body["child_name"] = "x"
    with pytest.raises(ContractViolation, match="child_name"):
        decode(orjson.dumps(body))


@pytest.mark.parametrize("name", ["Jane Smith", "Mr J. Smith", "", " C-1"])
def test_identifiers_are_opaque_so_a_name_cannot_pass_for_one(name: str) -> None:
    body = new_envelope(EXAMPLES["case-opened"], source="test").model_dump(mode="json")
    body["payload"]["worker_id"] = name
    with pytest.raises(ContractViolation, match="worker_id"):
        decode(orjson.dumps(body))


def test_a_payload_for_another_event_type_is_refused() -> None:
    body = new_envelope(EXAMPLES["case-opened"], source="test").model_dump(mode="json")
    body["event_type"] = "case-closed"
    with pytest.raises(ContractViolation, match="case-closed is invalid"):
        decode(orjson.dumps(body))


def test_an_unsupported_schema_version_is_refused_with_the_supported_one() -> None:
    body = new_envelope(EXAMPLES["case-opened"], source="test").model_dump(mode="json")
    body["schema_version"] = 2
    with pytest.raises(ContractViolation, match="version 2 is not supported.*reads version 1"):
        decode(orjson.dumps(body))


def test_an_event_on_the_wrong_topic_is_refused() -> None:
    envelope = new_envelope(EXAMPLES["case-opened"], source="test")
    with pytest.raises(ContractViolation, match="belongs on qaf.cases"):
        decode(envelope.to_bytes(), expected_topic="qaf.audits")


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"event_type": 5}'])
def test_garbage_is_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(ContractViolation):
        decode(raw)


def test_naive_times_are_refused_because_event_time_must_be_unambiguous() -> None:
    body = new_envelope(EXAMPLES["case-opened"], source="test").model_dump(mode="json")
    body["occurred_at"] = "2013-10-01T09:00:00"
    with pytest.raises(ContractViolation, match="occurred_at"):
        decode(orjson.dumps(body))


def test_a_caused_event_carries_its_cause_and_correlation() -> None:
    cause = new_envelope(EXAMPLES["case-opened"], source="case-system")
    effect = new_envelope(EXAMPLES["audit-allocated"], source="allocation", causation=cause)
    assert effect.causation_id == cause.event_id
    assert effect.correlation_id == cause.correlation_id
    assert effect.key == b"A-2013-10-017"


def test_payloads_are_immutable() -> None:
    payload = EXAMPLES["case-opened"]
    assert isinstance(payload, CaseOpened)
    with pytest.raises(Exception):
        payload.case_id = "C-2"  # type: ignore[misc]


def _outcome(raw: bytes | str, expected_topic: str | None) -> object:
    try:
        return decode(raw, expected_topic=expected_topic)
    except ContractViolation as exc:
        return ("refused", str(exc))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
@given(data=st.data())
def test_decoding_from_bytes_takes_and_refuses_exactly_what_the_careful_path_does(event_type: str, data) -> None:
    """Bytes are validated straight from JSON when they can be; the outcome must not depend on it."""
    body = new_envelope(EXAMPLES[event_type], source="test").model_dump(mode="json")
    target = body if data.draw(st.booleans()) else body["payload"]
    field = data.draw(st.sampled_from(sorted(target)))
    mutation = data.draw(st.sampled_from(["keep", "drop", "replace", "other-type"]))
    if mutation == "drop":
        del target[field]
    elif mutation == "replace":
        target[field] = data.draw(_JSON_VALUES)
    elif mutation == "other-type":
        body["event_type"] = data.draw(st.sampled_from(sorted(REGISTRY)))
    raw = orjson.dumps(body)
    topic = data.draw(st.sampled_from([None, REGISTRY[event_type].TOPIC.name, "qaf.cases"]))
    assert _outcome(raw, topic) == _outcome(raw.decode(), topic)
