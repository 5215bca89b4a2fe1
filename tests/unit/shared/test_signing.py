"""shared.kafka.signing and the sender table: a message proves who sent it, and names
who may send it."""

from __future__ import annotations

import asyncio
import os
from base64 import b64decode, b64encode
from collections.abc import Callable
from functools import cache
from hashlib import blake2b
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from shared.events import REGISTRY, Envelope, Message
from shared.events import accounts as ev
from shared.events.envelope import senders
from shared.events.topics import ACCOUNTS_COMMANDS, owner
from shared.kafka import signing
from shared.kafka.producer import Producer
from shared.kafka.signing import UntrustedSender
from shared.keys import PROCESSES, TAG_BYTES, Keyring

TOPIC, KEY, VALUE = ACCOUNTS_COMMANDS, b"acc-1", b'{"id": "m-1"}'


@cache
def keys(process: str) -> Keyring:
    return Keyring.load(os.environ["AUTH_KEYS_DIR"], process)


def _headers(pairs: list[tuple[str, bytes]]) -> dict[str, bytes | None]:
    return dict(pairs)


def test_a_signed_message_verifies_as_its_signer() -> None:
    headers = signing.sign(keys("payments"), TOPIC, KEY, VALUE)

    assert [name for name, _ in headers] == [signing.SIGNER, signing.MACS]
    for reader in PROCESSES:
        assert signing.verified_signer(keys(reader), TOPIC, KEY, VALUE, _headers(headers)) == "payments"


def test_a_message_carries_one_tag_per_process() -> None:
    macs = dict(_headers(signing.sign(keys("payments"), TOPIC, KEY, VALUE)))[signing.MACS] or b""

    readers = [part.split(b"=", 1)[0].decode() for part in macs.split(b",")]
    assert sorted(readers) == sorted(keys("payments").public)
    assert set(PROCESSES) <= set(readers)
    assert all(len(b64decode(part.split(b"=", 1)[1])) == TAG_BYTES for part in macs.split(b","))


@pytest.mark.parametrize("value", [VALUE, b"", bytes(range(256)) * 3])
def test_each_tag_is_the_keyed_blake2b_of_the_message_under_its_link_key(value: bytes) -> None:
    """ADR 0020's tags, however the producer gets to them (from a keyed state it copies):
    the same message signed twice carries the same tags, each what its reader computes."""
    payments = keys("payments")
    first, again = (dict(signing.sign(payments, TOPIC, KEY, value))[signing.MACS] for _ in range(2))

    tags = {name.decode(): b64decode(tag) for name, tag in (part.split(b"=", 1) for part in first.split(b","))}
    data = signing.signed_bytes(TOPIC, KEY, value)
    assert again == first
    assert tags == {
        peer: blake2b(data, key=link, digest_size=TAG_BYTES).digest() for peer, link in payments.links.items()
    }
    assert all(keys(peer).tag("payments", data) == tag for peer, tag in tags.items())


def test_two_processes_share_one_link_key_and_no_other_pair_has_it() -> None:
    for a in PROCESSES:
        for b in PROCESSES:
            assert keys(a).links[b] == keys(b).links[a]
    pairs = {frozenset((a, b)): keys(a).links[b] for a in PROCESSES for b in PROCESSES}
    assert len(set(pairs.values())) == len(pairs)


def test_a_message_without_a_key_verifies_too() -> None:
    headers = signing.sign(keys("payments"), TOPIC, None, VALUE)

    assert signing.verified_signer(keys("accounts"), TOPIC, None, VALUE, _headers(headers)) == "payments"


@pytest.mark.parametrize(
    ("topic", "key", "value"),
    [
        pytest.param("payments.events", KEY, VALUE, id="another topic"),
        pytest.param(TOPIC, b"acc-2", VALUE, id="another key"),
        pytest.param(TOPIC, None, VALUE, id="no key"),
        pytest.param(TOPIC, KEY, b'{"id": "m-2"}', id="another value"),
    ],
)
def test_a_signature_does_not_carry_over_to_another_message(topic: str, key: bytes | None, value: bytes) -> None:
    headers = signing.sign(keys("payments"), TOPIC, KEY, VALUE)

    with pytest.raises(UntrustedSender, match=r"^untrusted-sender: bad signature claiming payments$"):
        signing.verified_signer(keys("accounts"), topic, key, value, _headers(headers))


def test_a_process_cannot_sign_for_another_to_a_third() -> None:
    """Accounts holds a link key with payments and one with securities, but not theirs: what it
    tags as payments for securities is refused by securities."""
    forged = [(signing.SIGNER, b"payments"), signing.sign(keys("accounts"), TOPIC, KEY, VALUE)[1]]

    with pytest.raises(UntrustedSender, match=r"^untrusted-sender: bad signature claiming payments$"):
        signing.verified_signer(keys("securities"), TOPIC, KEY, VALUE, _headers(forged))


def _forged_name(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(n, b"securities" if n == signing.SIGNER else v) for n, v in headers]


def _macs(value: bytes) -> Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]:
    return lambda h: [h[0], (signing.MACS, value)]


def _own_tag(tag: bytes) -> Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]:
    """Accounts' tag replaced by `tag`, the others kept."""

    def tamper(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        parts = [b"accounts=" + tag if p.startswith(b"accounts=") else p for p in headers[1][1].split(b",")]
        return [headers[0], (signing.MACS, b",".join(parts))]

    return tamper


HEADER_CASES: dict[str, tuple[Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]], str]] = {
    "no headers": (lambda h: [], "no signature"),
    "a signer without tags": (lambda h: h[:1], "no signature"),
    "tags without a signer": (lambda h: h[1:], "no signature"),
    "empty tags": (_macs(b""), "no signature"),
    "another process's name": (_forged_name, "bad signature claiming securities"),
    "a process the keys do not know": (
        lambda h: [(signing.SIGNER, b"mallory"), h[1]],
        "signed by unknown process 'mallory'",
    ),
    "tags for other processes only": (
        lambda h: [h[0], (signing.MACS, b",".join(p for p in h[1][1].split(b",") if not p.startswith(b"accounts=")))],
        "no signature for accounts claiming payments",
    ),
    "a tag that is not base64": (_own_tag(b"not base64!"), "malformed signature claiming payments"),
    "a tag of the wrong length": (_own_tag(b64encode(b"short")), "bad signature claiming payments"),
    "another reader's tag as ours": (
        lambda h: _own_tag(h[1][1].split(b"securities=")[1].split(b",")[0])(h),
        "bad signature claiming payments",
    ),
    "an Ed25519 signature that is not base64": (
        lambda h: [h[0], (signing.SIGNATURE, b"not base64!")],
        "malformed signature claiming payments",
    ),
    "an Ed25519 signature of the wrong length": (
        lambda h: [h[0], (signing.SIGNATURE, b64encode(b"short"))],
        "bad signature claiming payments",
    ),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_what_does_not_prove_a_sender_is_untrusted(case: str) -> None:
    tamper, reason = HEADER_CASES[case]
    headers = tamper(signing.sign(keys("payments"), TOPIC, KEY, VALUE))

    with pytest.raises(UntrustedSender) as refused:
        signing.verified_signer(keys("accounts"), TOPIC, KEY, VALUE, _headers(headers))

    assert str(refused.value) == f"untrusted-sender: {reason}"
    assert refused.value.reason == reason


def test_a_message_signed_before_the_tags_still_verifies_under_the_public_key() -> None:
    """A dead letter kept from before carries an Ed25519 `signature`: replayed, it applies."""
    signature = b64encode(keys("payments").sign(signing.signed_bytes(TOPIC, KEY, VALUE)))
    headers = [(signing.SIGNER, b"payments"), (signing.SIGNATURE, signature)]

    assert signing.is_signed(headers)
    assert signing.verified_signer(keys("accounts"), TOPIC, KEY, VALUE, _headers(headers)) == "payments"
    with pytest.raises(UntrustedSender, match="bad signature claiming payments"):
        signing.verified_signer(keys("accounts"), TOPIC, KEY, b"{}", _headers(headers))


def _credit(source: str) -> Envelope:
    message = ev.CreditAccount(account_id="a", credit_id="c", source_account_id="internal:cash-in", amount_minor=1)
    return Envelope.wrap(message, source=source)


def test_the_signer_must_be_the_source_the_envelope_claims() -> None:
    with pytest.raises(UntrustedSender, match=r"^untrusted-sender: signed by securities but claims source payments$"):
        signing.check_sender(_credit("payments"), "securities")


def test_the_signer_must_be_one_of_the_message_types_senders() -> None:
    with pytest.raises(UntrustedSender, match=r"accounts may not send accounts\.CreditAccount \(its senders: "):
        signing.check_sender(_credit("accounts"), "accounts")


def test_a_type_no_schema_declares_has_no_sender() -> None:
    envelope = Envelope(type="nobody.Knows", source="payments", subject="s", data={})

    with pytest.raises(UntrustedSender, match=r"its senders: none"):
        signing.check_sender(envelope, "payments")


def test_a_rightful_sender_passes() -> None:
    signing.check_sender(_credit("payments"), "payments")


# --- the sender table ------------------------------------------------------------------------


def _declared() -> list[type[Message]]:
    return [m for m in REGISTRY.values() if m.__module__.startswith("shared.events.")]


def test_every_message_names_senders_among_the_stacks_processes() -> None:
    for model in _declared():
        assert model.senders(), model.TYPE
        assert model.senders() <= set(PROCESSES), model.TYPE
        assert senders(model.TYPE) == model.senders()


def test_a_fact_is_sent_only_by_the_owner_of_its_topic() -> None:
    facts = [m for m in _declared() if m.TOPIC.endswith(".events")]

    assert facts
    for model in facts:
        assert model.senders() == {owner(model.TOPIC)}, model.TYPE


def test_accounts_takes_commands_only_from_the_services_that_run_money_sagas() -> None:
    commands = {m.TYPE: m.senders() for m in _declared() if m.TOPIC == ACCOUNTS_COMMANDS}

    assert commands == {
        ev.ReserveFunds.TYPE: {"payments", "securities", "insurance"},
        ev.ReleaseHold.TYPE: {"payments", "securities", "insurance"},
        ev.CaptureHold.TYPE: {"payments", "securities", "insurance"},
        ev.CreditAccount.TYPE: {"payments", "securities", "insurance"},
        ev.TransferFunds.TYPE: {"securities"},
    }


def test_a_command_that_names_no_senders_is_refused_where_it_is_declared() -> None:
    with pytest.raises(TypeError, match="names no SENDERS"):

        class Anonymous(Message):
            TYPE: ClassVar[str] = "tests.Anonymous"
            TOPIC: ClassVar[str] = "tests.commands"

    assert "tests.Anonymous" not in REGISTRY


# --- the producer signs ------------------------------------------------------------------------


class _Recorder:
    """An AIOKafkaProducer that keeps what it was asked to send, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    @property
    def client(self) -> Any:
        return SimpleNamespace(cluster=SimpleNamespace(available_partitions_for_topic=lambda topic: {0}))

    def create_batch(self) -> Any:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        self.sent += [{"topic": topic, **message} for message in batch.messages]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class _Batch:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def append(self, *, timestamp: float | None, key: bytes | None, value: bytes, headers: list[Any]) -> Any:
        self.messages.append({"key": key, "value": value, "headers": headers})
        return True


async def test_the_producer_signs_each_message_as_its_process() -> None:
    producer = Producer("127.0.0.1:1", client_id="payments", keys=keys("payments"))
    producer._producer = recorder = _Recorder()  # type: ignore[assignment]

    await producer.send_many([(TOPIC, "acc-1", VALUE, [("type", b"accounts.CreditAccount")])])

    [sent] = recorder.sent
    headers = _headers(sent["headers"])
    assert headers["type"] == b"accounts.CreditAccount"
    assert signing.verified_signer(keys("accounts"), TOPIC, b"acc-1", VALUE, headers) == "payments"


async def test_the_producer_sends_a_message_signed_already_as_it_is() -> None:
    """A dead letter replayed by accounts still carries payments' signature, not accounts'."""
    producer = Producer("127.0.0.1:1", client_id="accounts", keys=keys("accounts"))
    producer._producer = recorder = _Recorder()  # type: ignore[assignment]
    original = signing.sign(keys("payments"), TOPIC, b"acc-1", VALUE)

    await producer.send_many([(TOPIC, "acc-1", VALUE, [*original, ("replayed-from-dlq", b"7")])])

    [sent] = recorder.sent
    assert sent["headers"] == [*original, ("replayed-from-dlq", b"7")]
    assert signing.verified_signer(keys("accounts"), TOPIC, b"acc-1", VALUE, _headers(sent["headers"])) == "payments"
