"""The accounts service under test as a test drives it: commands out over Kafka, facts
back from a tap on accounts.events and the DLQ, and HTTP for queries and set-up.

Commands go out as the service a real bank would have send them, signed with that
process's key from AUTH_KEYS_DIR (tests/conftest.py makes the key pairs): a sandbox
deposit as payments, a bank-securities transfer as securities, and so on
(`rightful_sender`). A test of who may send what names the source and the signer."""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from services.accounts.domain import INTERNAL_ACCOUNT_OWNERS
from shared.events import Envelope, Message
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_COMMANDS, dlq
from shared.kafka import signing
from shared.keys import Keyring
from tests.tokens import Minter

Header = tuple[str, bytes]


async def eventually(probe: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    """The probe's first truthy answer (the probe may be sync or async), polling every
    20 ms for at most `timeout_s`; an AssertionError naming `what` after that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{what} not within {timeout_s:.0f}s")
        await asyncio.sleep(0.02)


CASH_IN = "internal:cash-in"


@cache
def keyring(process: str) -> Keyring:
    """The key pair of `process` (gateway, accounts, payments ... or tests) for this run."""
    return Keyring.load(os.environ["AUTH_KEYS_DIR"], process)


def signed(topic: str, key: bytes | None, value: bytes, signer: str) -> list[Header]:
    """The headers of a message signed by `signer`, as its producer would add them."""
    return signing.sign(keyring(signer), topic, key, value)


def rightful_sender(message: Message) -> str:
    """The service whose flow sends this command in a real bank: securities for transfers,
    the owner of the internal account a credit comes from, payments for the rest."""
    if isinstance(message, ev.TransferFunds):
        return "securities"
    if isinstance(message, ev.CreditAccount):
        return INTERNAL_ACCOUNT_OWNERS.get(message.source_account_id, "payments")
    return "payments"


# Generous: the first command of a backend waits for the consumer group join (~1.5 s).
REPLY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Customer:
    id: str
    phone: str
    kyc_class: str
    headers: dict[str, str]


@dataclass(frozen=True)
class AccountHolder:
    """A test's customer as a service under test knows it, with the accounts it uses there."""

    customer: Customer

    @property
    def id(self) -> str:
        return self.customer.id

    @property
    def headers(self) -> dict[str, str]:
        return self.customer.headers


@dataclass
class Seen:
    record: ConsumerRecord
    envelope: Envelope | None  # None for what is not an envelope (DLQ copies of poison)

    @property
    def headers(self) -> dict[str, str]:
        return {k: (v or b"").decode(errors="replace") for k, v in self.record.headers}


class Tap:
    """Everything published on the given topics from the moment it started."""

    def __init__(self, bootstrap_servers: str, topics: list[str]) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.seen: list[Seen] = []
        self._changed = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        self._consumer = consumer
        try:
            await consumer.topics()  # loads the metadata partitions_for_topic answers from
            tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            assert tps, f"no partitions for {self.topics}"
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the end positions now, before any test sends a command
                await consumer.position(tp)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._run(), name=f"tap on {', '.join(self.topics)}")

    async def stop(self) -> None:
        try:
            if self._task is not None:
                self._task.cancel()
                await asyncio.wait([self._task])
                self._raise_if_failed()
        finally:
            if self._consumer is not None:
                await self._consumer.stop()

    def _ended(self) -> bool:
        return self._task is not None and self._task.done()

    def _raise_if_failed(self) -> None:
        """A tap that died would make every wait look like a missing message: its own error instead."""
        if self._ended() and self._task is not None and not self._task.cancelled() and self._task.exception():
            raise RuntimeError(f"the tap on {self.topics} failed") from self._task.exception()

    async def _run(self) -> None:
        assert self._consumer is not None
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=200)
                if not batch:
                    continue
                async with self._changed:
                    for records in batch.values():
                        for record in records:
                            try:
                                envelope: Envelope | None = Envelope.from_bytes(record.value)
                            except ValueError:
                                envelope = None
                            self.seen.append(Seen(record, envelope))
                    self._changed.notify_all()
        except Exception:
            async with self._changed:
                self._changed.notify_all()  # waiters re-check, and raise this
            raise

    def matching(self, predicate: Callable[[Seen], bool]) -> list[Seen]:
        return [s for s in self.seen if predicate(s)]

    async def wait_for(
        self, predicate: Callable[[Seen], bool], *, what: str, timeout_s: float = REPLY_TIMEOUT_S
    ) -> Seen:
        """The first record matching `predicate`, waiting at most `timeout_s` seconds for it."""

        def first() -> Seen | None:
            return next((s for s in self.seen if predicate(s)), None)

        try:
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(lambda: first() is not None or self._ended())
        except TimeoutError:
            self._raise_if_failed()
            raise AssertionError(f"no {what} within {timeout_s:.0f}s") from None
        self._raise_if_failed()
        found = first()
        assert found is not None
        return found


@dataclass
class Bank:
    """The accounts service under test, with the helpers a test drives it by."""

    backend: str
    app: Any
    http: httpx.AsyncClient
    tokens: Minter
    producer: AIOKafkaProducer
    tap: Tap
    service_headers: dict[str, str] = field(init=False)
    operator_headers: dict[str, str] = field(init=False)
    # Holds asked for through send(): (account id, hold id, source), for release_reserved().
    reserved: list[tuple[str, str, str]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.service_headers = _bearer(self.tokens.service_token("tests"))
        self.operator_headers = _bearer(self.tokens.issue("operator-tests", ["operator"]))

    # --- Kafka ------------------------------------------------------------------

    def envelope(self, message: Message, *, envelope_id: str | None = None, source: str | None = None) -> Envelope:
        """`message` in an envelope from `source` (by default its rightful sender)."""
        return Envelope.wrap(
            message,
            source=source or rightful_sender(message),
            id=envelope_id,
            correlation_id=f"test-{uuid.uuid4()}",
        )

    async def send(
        self,
        message: Message,
        *,
        envelope_id: str | None = None,
        source: str | None = None,
        signed_by: str | None = None,
    ) -> Envelope:
        """Wrap a command in an envelope and produce it to accounts.commands, keyed by
        account, signed by `signed_by` (by default: its source)."""
        envelope = self.envelope(message, envelope_id=envelope_id, source=source)
        await self.send_envelope(envelope, signed_by=signed_by)
        return envelope

    async def send_envelope(self, envelope: Envelope, *, signed_by: str | None = None) -> None:
        """Produce `envelope`, signed by `signed_by` (by default: its source)."""
        self._track(envelope)
        await self.send_raw(
            envelope.to_bytes(),
            key=envelope.subject,
            headers=[("type", envelope.type.encode())],
            signed_by=signed_by or envelope.source,
        )

    async def send_burst(self, envelopes: list[Envelope]) -> None:
        """Produce without waiting in between, so the consumer is likely to fetch them together."""
        for envelope in envelopes:
            self._track(envelope)
        futures = []
        for e in envelopes:
            value, key = e.to_bytes(), e.subject.encode()
            headers = signed(ACCOUNTS_COMMANDS, key, value, e.source)
            futures.append(await self.producer.send(ACCOUNTS_COMMANDS, value, key=key, headers=headers))
        await asyncio.gather(*futures)

    def _track(self, envelope: Envelope) -> None:
        if envelope.type == ev.ReserveFunds.TYPE:
            self.reserved.append((envelope.data["account_id"], envelope.data["hold_id"], envelope.source))

    async def release_reserved(self) -> None:
        """Release every hold reserved through this helper, as the service that reserved it:
        a hold left active would fail the ledger check's 'belongs to a live saga' rule once a
        test moves the clock."""
        reserved, self.reserved = self.reserved, []
        releases = [
            self.envelope(ev.ReleaseHold(account_id=account_id, hold_id=hold_id), source=source)
            for account_id, hold_id, source in dict.fromkeys(reserved)
        ]
        await self.send_burst(releases)
        for release in releases:
            await self.reply_to(release)

    async def send_raw(
        self, value: bytes, *, key: str, headers: list[Header] | None = None, signed_by: str | None = None
    ) -> None:
        """Produce `value` as it is: unsigned, unless `signed_by` names a process to sign it."""
        headers = list(headers or [])
        if signed_by is not None:
            headers += signed(ACCOUNTS_COMMANDS, key.encode(), value, signed_by)
        await self.producer.send_and_wait(ACCOUNTS_COMMANDS, value, key=key.encode(), headers=headers)

    async def send_fact(self, message: Message, *, answering: str) -> Envelope:
        """Produce an accounts fact as accounts publishes it (signed by accounts, the
        service it answers named): a repeated answer, as a re-sent command gets."""
        envelope = self.envelope(message, source="accounts")
        self._track(envelope)
        key, value = envelope.subject.encode(), envelope.to_bytes()
        headers = [("type", envelope.type.encode()), ("causation-source", answering.encode())]
        headers += signed(message.TOPIC, key, value, "accounts")
        await self.producer.send_and_wait(message.TOPIC, value, key=key, headers=headers)
        return envelope

    async def reply_to(self, command: Envelope, timeout_s: float = REPLY_TIMEOUT_S) -> Envelope:
        """The fact the service published in answer to `command` (its causation_id)."""
        seen = await self.tap.wait_for(
            lambda s: s.envelope is not None and s.envelope.causation_id == command.id,
            what=f"reply to {command.type} {command.id}",
            timeout_s=timeout_s,
        )
        assert seen.envelope is not None
        return seen.envelope

    def replies_to(self, command: Envelope | str) -> list[Envelope]:
        """Every fact seen so far that answers `command` (an envelope or its id)."""
        command_id = command if isinstance(command, str) else command.id
        return [s.envelope for s in self.tap.seen if s.envelope is not None and s.envelope.causation_id == command_id]

    async def command(self, message: Message, *, envelope_id: str | None = None, source: str | None = None) -> Envelope:
        """Send a command (from `source`, by default its rightful sender) and return the
        fact that answers it."""
        return await self.reply_to(await self.send(message, envelope_id=envelope_id, source=source))

    async def barrier(self, account_id: str, *, key: bytes | None = None, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        """Wait until every command sent so far on this account's partition has been answered.

        Commands are keyed by account and so are their facts: once the answer to a
        harmless command sent last is out, anything earlier has been answered too.
        Releasing an unknown hold leaves a zero-amount tombstone and moves no money.
        `key` sends it under another Kafka key, to reach the partition that key hashes to."""
        envelope = self.envelope(ev.ReleaseHold(account_id=account_id, hold_id=f"barrier-{uuid.uuid4()}"))
        value, key = envelope.to_bytes(), key or account_id.encode()
        headers = signed(ACCOUNTS_COMMANDS, key, value, envelope.source)
        await self.producer.send_and_wait(ACCOUNTS_COMMANDS, value, key=key, headers=headers)
        reply = await self.reply_to(envelope, timeout_s=timeout_s)
        assert reply.type == ev.HoldReleased.TYPE, reply

    async def dead_letter(self, predicate: Callable[[ConsumerRecord], bool], what: str = "dead letter") -> Seen:
        """The copy of a refused command on accounts.commands.dlq matching `predicate`."""
        return await self.tap.wait_for(
            lambda s: s.record.topic == dlq(ACCOUNTS_COMMANDS) and predicate(s.record), what=what
        )

    # --- HTTP and fixtures of data ----------------------------------------------

    def customer_headers(self, customer_id: str) -> dict[str, str]:
        return _bearer(self.tokens.issue(customer_id, ["customer"]))

    async def new_customer(self, kyc_class: str = "I", *, name: str = "Test Customer") -> Customer:
        customer_id = str(uuid.uuid4())
        phone = f"+861{uuid.uuid4().int % 10**10:010d}"
        r = await self.http.post(
            "/internal/customers",
            json={"customer_id": customer_id, "phone": phone, "name": name, "kyc_class": kyc_class},
            headers=self.service_headers,
        )
        assert r.status_code == 201, r.text
        return Customer(customer_id, phone, kyc_class, self.customer_headers(customer_id))

    async def open_account(self, customer: Customer, kind: str = "checking") -> str:
        r = await self.http.post("/v1/accounts", json={"kind": kind}, headers=customer.headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def fund(self, account_id: str, amount_minor: int) -> Envelope:
        reply = await self.command(
            ev.CreditAccount(
                account_id=account_id,
                credit_id=f"fund-{uuid.uuid4()}",
                source_account_id=CASH_IN,
                amount_minor=amount_minor,
                description="test funding",
            )
        )
        assert reply.type == ev.AccountCredited.TYPE, reply
        return reply

    async def funded_account(self, amount_minor: int, *, kyc_class: str = "I") -> tuple[Customer, str]:
        customer = await self.new_customer(kyc_class)
        account_id = await self.open_account(customer)
        if amount_minor:
            await self.fund(account_id, amount_minor)
        return customer, account_id

    async def account(self, account_id: str) -> dict[str, Any]:
        """An account as its owner's API shows it (read with a service token)."""
        r = await self.http.get(f"/v1/accounts/{account_id}", headers=self.service_headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def balances(self, *account_ids: str) -> list[tuple[int, int]]:
        """(balance_minor, held_minor) of each account."""
        accounts = [await self.account(a) for a in account_ids]
        return [(a["balance_minor"], a["held_minor"]) for a in accounts]

    async def statement(self, account_id: str, **params: Any) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"/v1/accounts/{account_id}/transactions", params={"limit": 200, **params}, headers=self.service_headers
        )
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]

    async def ledger_check(self) -> dict[str, Any]:
        r = await self.http.get("/v1/admin/ledger/check", headers=self.operator_headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
