"""The one envelope every Kafka message travels in (CloudEvents-shaped).

Payload schemas subclass `Message`; each names its `TYPE`, `TOPIC` and `VERSION`
and registers itself, so a consumer turns `envelope.type` back into a model. Each also
says who may send it (`senders()`): a consumer applies a message only when its verified
signer is one of them (shared/kafka/signing.py).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.events.topics import owner

REGISTRY: dict[str, type[Message]] = {}

M = TypeVar("M", bound="Message")


def new_id() -> str:
    """A random (version 4) UUID in its text form, as `str(uuid.uuid4())` writes it,
    without building the UUID object: every message published takes one."""
    b = bytearray(os.urandom(16))
    b[6] = b[6] & 0x0F | 0x40
    b[8] = b[8] & 0x3F | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """A typed payload: a command (imperative) or an event (past tense)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str] = ""
    TOPIC: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    # The processes (shared/keys.py) that may send it. A fact on `<service>.events` leaves it
    # empty: only that service states its facts. A command names the services whose flows
    # send it.
    SENDERS: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.TYPE:
            if cls.TYPE in REGISTRY and REGISTRY[cls.TYPE] is not cls:
                raise TypeError(f"message type {cls.TYPE} registered twice")
            if not cls.senders():
                raise TypeError(f"message type {cls.TYPE} on {cls.TOPIC!r} names no SENDERS")
            REGISTRY[cls.TYPE] = cls

    @classmethod
    def senders(cls) -> frozenset[str]:
        """Who may send this message: its SENDERS, or the owner of the events topic it is on."""
        if cls.SENDERS:
            return cls.SENDERS
        return frozenset({owner(cls.TOPIC)}) if cls.TOPIC.endswith(".events") else frozenset()

    def key(self) -> str:
        """The partition key: the aggregate whose order matters."""
        raise NotImplementedError


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_id)
    type: str
    version: int = 1
    source: str
    time: datetime = Field(default_factory=utcnow)
    subject: str
    correlation_id: str | None = None
    causation_id: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        message: Message,
        *,
        source: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """`time` is when the fact happened on the sender's sandbox clock (shared/clock.py),
        so what a customer later reads of it agrees with the rest of the sandbox.

        Not validated again: every field is made here, from a message pydantic validated
        when it was built (its payload dumped to JSON), so the envelope is valid by
        construction. pydantic's own `model_construct` does the same in Python, slower
        than the validation it skips; this sets what it sets, in the fields' order."""
        envelope = cls.__new__(cls)
        fields = {
            "id": id or new_id(),
            "type": message.TYPE,
            "version": message.VERSION,
            "source": source,
            "time": time or utcnow(),
            "subject": message.key(),
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            # model_dump(mode="json") without its wrapper: the serializer it hands every argument to.
            "data": message.__pydantic_serializer__.to_python(message, mode="json"),
        }
        object.__setattr__(envelope, "__dict__", fields)
        object.__setattr__(envelope, "__pydantic_fields_set__", set(_FIELDS))
        object.__setattr__(envelope, "__pydantic_extra__", None)
        object.__setattr__(envelope, "__pydantic_private__", None)
        return envelope

    def message(self) -> Message:
        model = REGISTRY.get(self.type)
        if model is None:
            raise UnknownMessageType(self.type)
        return model.model_validate(self.data)

    def to_bytes(self) -> bytes:
        """The wire form: what `model_dump(mode="json")` gives, in the same order and with
        times in the same ISO form (UTC as `Z`), written by orjson straight from the
        fields. `data` is JSON already: `wrap` dumps the message so, and a received
        envelope's came from JSON."""
        return orjson.dumps(self.__dict__, option=orjson.OPT_UTC_Z)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


_FIELDS = frozenset(Envelope.model_fields)


class UnknownMessageType(LookupError):
    pass


def senders(message_type: str) -> frozenset[str]:
    """Who may send messages of `message_type` (nobody, for a type no schema declares)."""
    model = REGISTRY.get(message_type)
    return model.senders() if model is not None else frozenset()
