"""Which Kafka errors make the outbox relay set a row aside for good, and which only stop the batch."""

from __future__ import annotations

import inspect

import pytest
from aiokafka import errors

from qaf_shared.kafka.outbox import PERMANENT_REFUSALS

REFUSED_FOR_GOOD = [
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.RecordTooLargeError,
    errors.CorruptRecordException,
    errors.InvalidTopicError,
]
PASSING_OR_FOR_OPS = [
    errors.KafkaTimeoutError,
    errors.RequestTimedOutError,
    errors.LeaderNotAvailableError,
    errors.NotLeaderForPartitionError,
    errors.NotEnoughReplicasError,
    errors.NotEnoughReplicasAfterAppendError,
    errors.KafkaConnectionError,
    errors.NodeNotReadyError,
    errors.UnknownTopicOrPartitionError,
    errors.TopicAuthorizationFailedError,  # ops grant it; every row of the topic would go aside otherwise
    errors.OutOfOrderSequenceNumber,  # the producer's state, not the row: the relay renews its producer id
    errors.KafkaStorageError,
    errors.UnknownError,
]


@pytest.mark.parametrize("error", REFUSED_FOR_GOOD, ids=lambda e: e.__name__)
def test_a_refusal_no_retry_can_change_quarantines_the_row(error: type[Exception]) -> None:
    assert issubclass(error, PERMANENT_REFUSALS)


@pytest.mark.parametrize("error", PASSING_OR_FOR_OPS, ids=lambda e: e.__name__)
def test_a_passing_failure_stops_the_batch_to_be_retried(error: type[Exception]) -> None:
    assert not issubclass(error, PERMANENT_REFUSALS)


def test_no_error_aiokafka_itself_retries_is_taken_for_a_permanent_refusal() -> None:
    retriable = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
                 if issubclass(cls, errors.KafkaError) and cls.retriable]
    assert len(retriable) > 10
    assert [cls.__name__ for cls in retriable if issubclass(cls, PERMANENT_REFUSALS)] == []
