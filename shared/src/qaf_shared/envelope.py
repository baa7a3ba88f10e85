"""The event envelope and the registry of event contracts.

Every event travels as one JSON envelope (DESIGN §4). A payload class registers itself with its
event type, schema version, topic and key field; `decode` turns raw bytes back into a typed envelope
and raises `ContractViolation` with a reason a person can read when it cannot.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from qaf_shared.topics import Topic

# Opaque identifiers: no spaces, so a person's name cannot pass for one by accident.
OPAQUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
OpaqueId = Annotated[str, StringConstraints(pattern=OPAQUE_ID_PATTERN)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
_OPAQUE = re.compile(OPAQUE_ID_PATTERN)


class ContractViolation(ValueError):
    """A message that does not meet its contract. Never retried: it goes to the dead-letter topic."""


class Payload(BaseModel):
    """Base of every event payload. Unknown fields are refused; instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]
    TOPIC: ClassVar[Topic]
    KEY_FIELD: ClassVar[str]

    def __init_subclass__(
        cls,
        *,
        event_type: str | None = None,
        topic: Topic | None = None,
        key_field: str | None = None,
        schema_version: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if event_type is None:
            return
        if event_type in REGISTRY:
            raise TypeError(f"event type {event_type!r} is registered twice")
        cls.EVENT_TYPE = event_type
        cls.SCHEMA_VERSION = schema_version
        cls.TOPIC = topic  # type: ignore[assignment]
        cls.KEY_FIELD = key_field  # type: ignore[assignment]
        REGISTRY[event_type] = cls

    def partition_key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))


REGISTRY: dict[str, type[Payload]] = {}

P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(description="Unique per event; the idempotency key.")
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(description="Event time: when it happened in the world.")
    recorded_at: AwareDatetime = Field(description="When the producer recorded it.")
    source: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._\-]{0,63}$")]
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: P

    @property
    def key(self) -> bytes:
        return self.payload.partition_key().encode()

    @property
    def topic(self) -> Topic:
        return self.payload.TOPIC

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


def new_envelope(
    payload: P,
    *,
    source: str,
    occurred_at: datetime | None = None,
    correlation_id: UUID | None = None,
    causation: Envelope[Any] | None = None,
    event_id: UUID | None = None,
) -> Envelope[P]:
    """Wrap a payload. A caused event inherits the correlation id of the event that caused it."""
    now = datetime.now(UTC)
    if causation is not None:
        correlation_id = correlation_id or causation.correlation_id
    return envelope_type(type(payload))(
        event_id=event_id or uuid4(),
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        occurred_at=occurred_at or now,
        recorded_at=now,
        source=source,
        correlation_id=correlation_id or uuid4(),
        causation_id=causation.event_id if causation is not None else None,
        payload=payload,
    )


@functools.cache
def envelope_type(payload_cls: type[Payload]) -> type[Envelope[Any]]:
    """`Envelope[payload_cls]`, built once: parametrising a generic model is costly."""
    return Envelope[payload_cls]  # type: ignore[valid-type]


def _first_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


_EVENT_TYPE_KEY = b'"event_type":"'


def _decode_fast(raw: bytes, expected_topic: str | None) -> Envelope[Payload] | None:
    """The common case, validated straight from the bytes (pydantic-core parses the JSON itself).

    Finds the event type by its key in the raw bytes, validates against that contract, and accepts the
    result only if its event type, schema version and topic are the ones expected. Anything else (a
    message laid out differently, an invalid one) returns None, and `decode` takes the careful path,
    which says what is wrong: the same messages pass, only sooner.
    """
    start = raw.find(_EVENT_TYPE_KEY)
    if start < 0:
        return None
    start += len(_EVENT_TYPE_KEY)
    end = raw.find(b'"', start)
    payload_cls = REGISTRY.get(raw[start:end].decode("utf-8", "replace"))
    if payload_cls is None or (expected_topic is not None and payload_cls.TOPIC.name != expected_topic):
        return None
    try:
        envelope = envelope_type(payload_cls).model_validate_json(raw)
    except ValidationError:
        return None
    if envelope.event_type != payload_cls.EVENT_TYPE or envelope.schema_version != payload_cls.SCHEMA_VERSION:
        return None
    return envelope


def decode(raw: bytes | str, *, expected_topic: str | None = None) -> Envelope[Payload]:
    """Parse and validate one message. Raises ContractViolation saying what is wrong."""
    if isinstance(raw, bytes):
        envelope = _decode_fast(raw, expected_topic)
        if envelope is not None:
            return envelope
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ContractViolation(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractViolation("the envelope must be a JSON object")
    event_type = data.get("event_type")
    payload_cls = REGISTRY.get(event_type) if isinstance(event_type, str) else None
    if payload_cls is None:
        raise ContractViolation(f"unknown event_type {event_type!r}")
    version = data.get("schema_version")
    if version != payload_cls.SCHEMA_VERSION:
        raise ContractViolation(
            f"{event_type} schema_version {version!r} is not supported "
            f"(this consumer reads version {payload_cls.SCHEMA_VERSION})"
        )
    if expected_topic is not None and payload_cls.TOPIC.name != expected_topic:
        raise ContractViolation(
            f"{event_type} belongs on {payload_cls.TOPIC.name}, not on {expected_topic}"
        )
    try:
        return envelope_type(payload_cls).model_validate(data)
    except ValidationError as exc:
        raise ContractViolation(f"{event_type} is invalid: {_first_error(exc)}") from None


def is_opaque_id(value: str) -> bool:
    return bool(_OPAQUE.match(value))
