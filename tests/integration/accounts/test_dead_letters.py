"""A message no retry will fix goes to accounts.commands.dlq with the error, and the
commands behind it on the same partition are still applied."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from shared.events import Envelope
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_COMMANDS
from tests.integration.harness import CASH_IN, Bank, signed

pytestmark = pytest.mark.broker


def _envelope_bytes(data: dict, type_: str = ev.ReserveFunds.TYPE) -> bytes:
    return orjson.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": type_,
            "source": "payments",
            "subject": data.get("account_id", "x"),
            "data": data,
        }
    )


POISON = {
    "not json": lambda account, tag: b"\xff\x00 not json " + tag.encode(),
    "json but not an envelope": lambda account, tag: orjson.dumps({"hello": tag}),
    "envelope with an invalid payload": lambda account, tag: _envelope_bytes(
        {"account_id": account, "hold_id": tag, "amount_minor": -5}
    ),
    "envelope with a missing field": lambda account, tag: _envelope_bytes({"account_id": account, "hold_id": tag}),
}


def _credit(account: str, amount_minor: int = 7_00) -> Envelope:
    return Envelope.wrap(
        ev.CreditAccount(
            account_id=account, credit_id=f"cr-{uuid.uuid4()}", source_account_id=CASH_IN, amount_minor=amount_minor
        ),
        source="payments",
    )


@pytest.mark.parametrize("kind", list(POISON))
async def test_poison_goes_to_the_dlq_and_later_commands_still_apply(bank: Bank, kind: str) -> None:
    _, account = await bank.funded_account(0)
    poison = POISON[kind](account, f"poison-{uuid.uuid4()}")

    await bank.send_raw(poison, key=account, headers=[("probe", b"kept")], signed_by="payments")
    credit = _credit(account)
    await bank.send_envelope(credit)

    letter = await bank.dead_letter(lambda r: r.value == poison)
    assert letter.record.key == account.encode()
    # One line, saying why: operators see a dead letter's last line.
    assert letter.headers["error"].startswith("undecodable message: ")
    assert "\n" not in letter.headers["error"] and "errors.pydantic.dev" not in letter.headers["error"]
    assert letter.headers["probe"] == "kept"
    assert letter.headers["consumer"]
    assert (await bank.reply_to(credit)).type == ev.AccountCredited.TYPE
    assert (await bank.account(account))["balance_minor"] == 7_00


@pytest.mark.parametrize(
    ("value", "key"),
    [
        pytest.param(None, None, id="tombstone"),
        pytest.param(b"not json", b"\xff\xfe not utf-8", id="key that is not UTF-8"),
    ],
)
async def test_poison_that_fails_to_dead_letter_does_not_lose_the_commands_fetched_with_it(
    bank: Bank, value: bytes | None, key: bytes | None
) -> None:
    """Poison and a good credit produced in one batch reach the consumer in one fetch.
    If dead-lettering the poison fails, the whole fetched batch must be read again, not
    skipped: the consumer's position has already moved past it."""
    _, account = await bank.funded_account(0)
    key = key or account.encode()
    tag = uuid.uuid4().hex.encode()
    credit = _credit(account)

    sent = [
        await bank.producer.send(ACCOUNTS_COMMANDS, value, key=key, headers=[("tag", tag)]),
        await bank.producer.send(
            ACCOUNTS_COMMANDS,
            credit.to_bytes(),
            key=key,
            headers=signed(ACCOUNTS_COMMANDS, key, credit.to_bytes(), "payments"),
        ),
    ]
    await asyncio.gather(*sent)
    for attempt in range(3):  # a barrier fetched together with the poison may be skipped too
        try:
            await bank.barrier(account, key=key, timeout_s=3)
            break
        except AssertionError:
            if attempt == 2:
                raise

    assert [r.type for r in bank.replies_to(credit)] == [ev.AccountCredited.TYPE], "the credit was skipped"
    assert (await bank.account(account))["balance_minor"] == 7_00
    letter = await bank.dead_letter(lambda r: dict(r.headers).get("tag") == tag)
    assert letter.headers["error"]


async def test_an_id_longer_than_the_ledger_stores_is_refused_on_every_backend(bank: Bank) -> None:
    """Ids have no length bound in the schema; the hold table keeps 64 characters.
    PostgreSQL fails the insert (four attempts, then the DLQ) while SQLite stores it:
    the same command must not be applied on one backend and dead-lettered on another.
    Built by hand, as a producer that skips the pydantic models would send it."""
    _, account = await bank.funded_account(100_00)
    long_id = "h" * 65
    raw = _envelope_bytes({"account_id": account, "hold_id": long_id, "amount_minor": 1_00})

    await bank.send_raw(raw, key=account, signed_by="payments")
    await bank.barrier(account)

    try:
        assert bank.replies_to(orjson.loads(raw)["id"]) == [], f"applied on {bank.backend}"
        await bank.dead_letter(lambda r: r.value == raw)
        assert await bank.balances(account) == [(100_00, 0)]
    finally:  # where the hold was placed after all, free it for the tests after this one
        await bank.send_raw(
            _envelope_bytes({"account_id": account, "hold_id": long_id}, ev.ReleaseHold.TYPE),
            key=account,
            signed_by="payments",
        )
        await bank.barrier(account)
