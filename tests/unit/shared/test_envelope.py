"""shared.events.envelope: one CloudEvents-shaped envelope, typed payloads by registry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import orjson
import pytest
from pydantic import ValidationError

from shared.events import REGISTRY, Envelope, Message, UnknownMessageType, new_id
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS
from shared.schemas.statements import LineKind, ReferenceKind


def _reserve() -> ev.ReserveFunds:
    return ev.ReserveFunds(account_id="acc-1", hold_id="hold-1", amount_minor=1250, reference="bill 42")


def test_wrap_fills_the_envelope_from_the_message() -> None:
    message = _reserve()

    envelope = Envelope.wrap(message, source="payments", correlation_id="corr-1", causation_id="cause-1")

    assert uuid.UUID(envelope.id).version == 4
    assert envelope.type == "accounts.ReserveFunds"
    assert envelope.version == 2  # ReserveFunds version 2: a capture with the reservation
    assert envelope.source == "payments"
    assert envelope.subject == "acc-1"  # the partition key: the account
    assert envelope.correlation_id == "corr-1"
    assert envelope.causation_id == "cause-1"
    assert envelope.time.tzinfo is not None
    assert envelope.data["amount_minor"] == 1250


def test_wrap_keeps_an_explicit_id() -> None:
    assert Envelope.wrap(_reserve(), source="t", id="fixed").id == "fixed"


def test_bytes_round_trip_keeps_every_field_and_the_payload() -> None:
    envelope = Envelope.wrap(_reserve(), source="payments", correlation_id="c", causation_id="x")

    back = Envelope.from_bytes(envelope.to_bytes())

    assert back == envelope
    assert back.message() == _reserve()
    assert isinstance(back.message(), ev.ReserveFunds)


def test_wire_form_is_plain_json_with_an_iso_time() -> None:
    envelope = Envelope.wrap(_reserve(), source="payments")
    envelope = envelope.model_copy(update={"time": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)})

    wire = orjson.loads(envelope.to_bytes())

    assert wire["time"].startswith("2024-01-02T03:04:05")
    assert set(wire) == {
        "id",
        "type",
        "version",
        "source",
        "time",
        "subject",
        "correlation_id",
        "causation_id",
        "data",
    }


def test_unknown_envelope_fields_are_ignored_for_forward_compatibility() -> None:
    wire = orjson.loads(Envelope.wrap(_reserve(), source="t").to_bytes())
    wire["traceparent"] = "00-abc-def-01"

    assert Envelope.from_bytes(orjson.dumps(wire)).message() == _reserve()


@pytest.mark.parametrize(
    "message",
    [
        _reserve(),
        ev.ReleaseHold(account_id="a", hold_id="h"),
        ev.CaptureHold(account_id="a", hold_id="h", target_account_id="b", amount_minor=5),
        ev.CreditAccount(account_id="a", credit_id="c", source_account_id="internal:cash-in", amount_minor=1),
        ev.TransferFunds(account_id="a", transfer_id="t", to_account_id="b", amount_minor=1),
        ev.FundsReserved(account_id="a", hold_id="h", amount_minor=1, currency="CNY", available_minor=0),
        ev.ReservationRejected(
            account_id="a", hold_id="h", amount_minor=1, currency="CNY", reason="insufficient_funds"
        ),
        ev.HoldCaptured(
            account_id="a", hold_id="h", target_account_id="b", amount_minor=1, released_minor=0, entry_id="e"
        ),
        ev.CustomerRegistered(customer_id="c", phone="+86", name="n", kyc_class="II"),
    ],
    ids=lambda m: m.TYPE,
)
def test_every_accounts_message_round_trips(message: Message) -> None:
    back = Envelope.from_bytes(Envelope.wrap(message, source="t").to_bytes()).message()
    assert back == message
    assert type(back) is type(message)


def test_registry_maps_every_type_to_its_model_and_topic() -> None:
    commands = [ev.ReserveFunds, ev.ReleaseHold, ev.CaptureHold, ev.CreditAccount, ev.TransferFunds]
    events = [
        ev.CustomerRegistered,
        ev.AccountOpened,
        ev.FundsReserved,
        ev.ReservationRejected,
        ev.HoldReleased,
        ev.HoldCaptured,
        ev.CaptureRejected,
        ev.AccountCredited,
        ev.CreditRejected,
        ev.FundsTransferred,
        ev.TransferRejected,
    ]
    for model in commands:
        assert REGISTRY[model.TYPE] is model
        assert model.TOPIC == ACCOUNTS_COMMANDS
        assert model.TYPE.split(".")[1][0].isupper()
    for model in events:
        assert REGISTRY[model.TYPE] is model
        assert model.TOPIC == ACCOUNTS_EVENTS


def test_registering_a_type_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="registered twice"):

        class Impostor(Message):
            TYPE: ClassVar[str] = ev.ReserveFunds.TYPE

    assert REGISTRY[ev.ReserveFunds.TYPE] is ev.ReserveFunds


def test_unknown_type_raises_unknown_message_type() -> None:
    envelope = Envelope(type="nobody.Knows", source="t", subject="s", data={})

    with pytest.raises(UnknownMessageType, match=r"nobody\.Knows"):
        envelope.message()
    assert isinstance(UnknownMessageType("x"), LookupError)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"account_id": "a", "hold_id": "h"}, "amount missing"),
        ({"account_id": "a", "hold_id": "h", "amount_minor": 0}, "zero amount"),
        ({"account_id": "a", "hold_id": "h", "amount_minor": -5}, "negative amount"),
        ({"account_id": "a", "hold_id": "h", "amount_minor": 10**15 + 1}, "over the limit"),
        ({"account_id": "a", "hold_id": "h", "amount_minor": "12.50"}, "decimal string"),
        ({"account_id": "a", "hold_id": "h", "amount_minor": 1, "surprise": 1}, "extra field"),
    ],
)
def test_invalid_payload_fails_validation(data: dict, why: str) -> None:
    envelope = Envelope(type=ev.ReserveFunds.TYPE, source="t", subject="a", data=data)
    with pytest.raises(ValidationError):
        envelope.message()


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"\xff\xfe", b"null", b"[]", b"{}", b'{"type": "x"}'],
)
def test_from_bytes_refuses_what_is_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(ValueError):  # orjson.JSONDecodeError and ValidationError both are
        Envelope.from_bytes(raw)


def test_messages_are_immutable() -> None:
    with pytest.raises(ValidationError):
        _reserve().amount_minor = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "time",
    [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        datetime(2024, 1, 2, 11, 4, 5, 123456, tzinfo=timezone(timedelta(hours=8))),
    ],
)
def test_the_wire_form_is_what_pydantic_would_write(time: datetime) -> None:
    envelope = Envelope.wrap(
        ev.CaptureHold(
            account_id="acc-1",
            hold_id="hold-1",
            target_account_id="acc-2",
            statement=ev.StatementText(
                reference_kind=ReferenceKind.PAYMENT,
                reference_id="p-1",
                debit_kind=LineKind.TRANSFER_OUT,
                debit_description="Transfer to B*b",
                credit_kind=LineKind.TRANSFER_IN,
                credit_description="Transfer from A*a",
            ),
        ),
        source="payments",
        correlation_id="c",
        time=time,
    )
    validated = Envelope.model_validate(envelope.model_dump())

    assert envelope == validated
    assert envelope.to_bytes() == orjson.dumps(validated.model_dump(mode="json"))
    assert Envelope.from_bytes(envelope.to_bytes()).to_bytes() == envelope.to_bytes()


def test_message_ids_are_random_uuids_in_their_text_form() -> None:
    ids = {new_id() for _ in range(1000)}

    assert len(ids) == 1000
    for found in ids:
        parsed = uuid.UUID(found)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == found
