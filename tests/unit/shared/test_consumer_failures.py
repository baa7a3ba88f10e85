"""How the consumer tells failures apart, how long it waits between tries, and what a dead-letter copy keeps."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import pytest

from qaf_shared.envelope import ContractViolation
from qaf_shared.kafka.consumer import (
    DLQ_MAX_KEY_BYTES,
    DeadLetterUnavailable,
    Failure,
    PermanentFailure,
    RetryPolicy,
    bounded_copy,
    classify,
)


def postgres_error(sqlstate: str) -> asyncpg.PostgresError:
    """The asyncpg exception PostgreSQL's SQLSTATE maps to, as the driver would raise it."""
    cls = asyncpg.PostgresError.get_message_class_for_sqlstate(sqlstate)  # type: ignore[attr-defined]
    return cls(f"injected {sqlstate}")


@pytest.mark.parametrize(
    ("sqlstate", "what"),
    [
        ("08006", "connection failure"),
        ("25006", "read-only transaction after a failover"),
        ("53100", "disk full"),
        ("53200", "out of memory"),
        ("53300", "too many connections"),
        ("55P03", "lock timeout"),
        ("57014", "statement timeout"),
        ("57P01", "admin shutdown"),
        ("40001", "serialization failure"),
        ("40P01", "deadlock"),
        ("58030", "I/O error"),
    ],
)
def test_database_errors_a_retry_can_mend_are_transient(sqlstate: str, what: str) -> None:
    assert classify(postgres_error(sqlstate)) is Failure.TRANSIENT, what


@pytest.mark.parametrize(
    ("sqlstate", "what"),
    [("22P02", "invalid text representation"), ("22003", "numeric value out of range"),
     ("23505", "unique violation"), ("23503", "foreign key violation"), ("23514", "check violation")],
)
def test_data_and_integrity_errors_of_the_event_are_permanent(sqlstate: str, what: str) -> None:
    assert classify(postgres_error(sqlstate)) is Failure.PERMANENT, what


@pytest.mark.parametrize(("sqlstate", "what"), [("42P01", "undefined table"), ("42703", "undefined column"),
                                                 ("XX000", "internal error"), ("P0001", "raised by a trigger")])
def test_other_database_errors_are_unexpected(sqlstate: str, what: str) -> None:
    assert classify(postgres_error(sqlstate)) is Failure.UNEXPECTED, what


def test_errors_outside_the_database() -> None:
    assert classify(PermanentFailure("a rule")) is Failure.PERMANENT
    assert classify(ContractViolation("bad envelope")) is Failure.PERMANENT
    assert classify(ConnectionResetError()) is Failure.TRANSIENT
    assert classify(asyncio.TimeoutError()) is Failure.TRANSIENT
    assert classify(asyncpg.InterfaceError("connection is closed")) is Failure.TRANSIENT
    assert classify(DeadLetterUnavailable("broker down")) is Failure.TRANSIENT
    assert classify(KeyError("a bug")) is Failure.UNEXPECTED
    assert classify(ValueError("a bug")) is Failure.UNEXPECTED


def test_the_backoff_doubles_up_to_its_cap_with_jitter_below_it() -> None:
    policy = RetryPolicy(backoff_s=1.0, backoff_max_s=30.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (40, 30.0), (10_000, 30.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert len(set(delays)) > 1, "jittered"


def test_a_copy_that_fits_is_kept_whole() -> None:
    assert bounded_copy(b"abc", b"K-1", 10) == (b"abc", b"K-1", [])
    assert bounded_copy(None, None, 10) == (b"", None, [])


def test_a_copy_too_large_is_cut_and_says_what_it_was() -> None:
    value = bytes(range(256)) * 10
    cut, key, headers = bounded_copy(value, b"K-1", 100)
    assert cut == value[:100] and key == b"K-1"
    assert dict(headers) == {
        "x-dlq-truncated": b"true",
        "x-dlq-original-size": b"2560",
        "x-dlq-original-sha256": hashlib.sha256(value).hexdigest().encode(),
    }


def test_a_huge_key_is_cut_too() -> None:
    key = b"k" * (DLQ_MAX_KEY_BYTES + 1)
    _, cut, headers = bounded_copy(b"v", key, 100)
    assert cut == key[:DLQ_MAX_KEY_BYTES]
    assert dict(headers)["x-dlq-original-key-sha256"] == hashlib.sha256(key).hexdigest().encode()


def test_a_use_cases_refusal_in_a_handler_is_permanent_with_its_message_as_the_reason() -> None:
    from qaf_shared.errors import Conflict, Invalid, NotFound
    from qaf_shared.kafka.consumer import describe

    for refusal in (NotFound("no audit 'A-1' was allocated"), Conflict("already resolved"),
                    Invalid("is in the future", field="opened_on")):
        assert classify(refusal) is Failure.PERMANENT
    assert describe(NotFound("no audit 'A-1' was allocated")) == "no audit 'A-1' was allocated"
