"""Who may ask accounts to move money: a command is applied only when it is signed by a
process that may send it, whose envelope names it as the source, and whose flow owns the
internal account or the hold the command touches. Anything else lands in
accounts.commands.dlq and the dead_letter table with the reason, and moves nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.events import Envelope
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_COMMANDS
from shared.kafka import signing
from tests.integration.harness import CASH_IN, Bank, Seen, Tap, eventually, signed

pytestmark = pytest.mark.broker


def _cash_in(account: str, amount_minor: int = 500_00) -> ev.CreditAccount:
    return ev.CreditAccount(
        account_id=account, credit_id=f"cr-{uuid.uuid4()}", source_account_id=CASH_IN, amount_minor=amount_minor
    )


async def _refused(bank: Bank, envelope: Envelope) -> Seen:
    """The DLQ copy of `envelope`, once the commands sent after it were answered."""
    await bank.barrier(envelope.subject)
    assert bank.replies_to(envelope) == [], "the command was answered, so it was applied"
    return await bank.dead_letter(lambda r: r.value == envelope.to_bytes(), what=f"dead letter of {envelope.id}")


async def _listed(bank: Bank, message_id: str) -> dict[str, Any]:
    """The operator's entry for a dead letter, by the id of its message."""
    r = await bank.http.get("/internal/dead-letters", params={"limit": 500}, headers=bank.operator_headers)
    assert r.status_code == 200, r.text
    found = [d for d in r.json()["items"] if d["message_id"] == message_id]
    assert len(found) == 1, found
    return found[0]  # type: ignore[no-any-return]


async def test_an_unsigned_credit_from_cash_in_mints_nothing(bank: Bank) -> None:
    """The attack: a plain Kafka client with no key writes a deposit to accounts.commands."""
    _, account = await bank.funded_account(100_00)
    forged = bank.envelope(_cash_in(account, 1_000_000_00), source="payments")

    await bank.send_raw(forged.to_bytes(), key=account, headers=[("type", forged.type.encode())])

    letter = await _refused(bank, forged)
    assert letter.headers["error"] == "untrusted-sender: no signature"
    assert (await bank.account(account))["balance_minor"] == 100_00
    assert (await _listed(bank, forged.id))["error"] == "untrusted-sender: no signature"


async def test_a_signed_command_claiming_another_source_is_refused(bank: Bank) -> None:
    _, account = await bank.funded_account(100_00)
    lying = bank.envelope(_cash_in(account), source="payments")

    await bank.send_envelope(lying, signed_by="securities")

    letter = await _refused(bank, lying)
    assert letter.headers["error"] == "untrusted-sender: signed by securities but claims source payments"
    assert (await bank.account(account))["balance_minor"] == 100_00


async def test_only_payments_credits_from_cash_in(bank: Bank) -> None:
    """Securities may send CreditAccount (sale proceeds), but not from the deposits' account."""
    _, account = await bank.funded_account(100_00)
    credit = bank.envelope(_cash_in(account), source="securities")

    await bank.send_envelope(credit)

    letter = await _refused(bank, credit)
    assert letter.headers["error"] == (
        "untrusted-sender: securities may not move money of internal:cash-in (it belongs to payments)"
    )
    # The copy on the DLQ is accounts' word that it refused; the sender's signature rides along.
    assert (letter.headers[signing.SIGNER], letter.headers[signing.ORIGINAL_SIGNER]) == ("accounts", "securities")
    assert (await bank.account(account))["balance_minor"] == 100_00


async def test_a_hold_is_captured_only_by_the_service_that_reserved_it(bank: Bank) -> None:
    _, payer = await bank.funded_account(300_00)
    _, thief = await bank.funded_account(0)
    hold_id = f"hold-{uuid.uuid4()}"
    reserved = await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=200_00))
    assert reserved.type == ev.FundsReserved.TYPE

    capture = await bank.send(
        ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=thief), source="insurance"
    )
    release = await bank.send(ev.ReleaseHold(account_id=payer, hold_id=hold_id), source="securities")

    assert (await _refused(bank, capture)).headers["error"] == (
        f"untrusted-sender: insurance may not settle hold {hold_id}, which payments reserved"
    )
    assert "securities may not settle" in (await _refused(bank, release)).headers["error"]
    assert await bank.balances(payer, thief) == [(300_00, 200_00), (0, 0)]
    await bank.release_reserved()  # as payments, which may
    assert await bank.balances(payer) == [(300_00, 0)]


@pytest.mark.parametrize(
    ("message", "signer", "reason"),
    [
        pytest.param(
            lambda account: ev.TransferFunds(
                account_id=account, transfer_id=f"tr-{uuid.uuid4()}", to_account_id=CASH_IN, amount_minor=1_00
            ),
            "payments",
            "payments may not send accounts.TransferFunds (its senders: securities)",
            id="a command type the signer never sends",
        ),
        pytest.param(
            _cash_in,
            "accounts",
            "accounts may not send accounts.CreditAccount (its senders: insurance, payments, securities)",
            id="a known key that sends no commands",
        ),
        pytest.param(
            _cash_in,
            "tests",
            "tests may not send accounts.CreditAccount (its senders: insurance, payments, securities)",
            id="a key outside the bank",
        ),
    ],
)
async def test_a_command_from_a_process_that_may_not_send_it_is_refused(
    bank: Bank, message: Any, signer: str, reason: str
) -> None:
    _, account = await bank.funded_account(100_00)
    envelope = bank.envelope(message(account), source=signer)

    await bank.send_envelope(envelope)

    assert (await _refused(bank, envelope)).headers["error"] == f"untrusted-sender: {reason}"
    assert (await bank.account(account))["balance_minor"] == 100_00


async def test_a_signed_command_replayed_for_another_account_is_refused(bank: Bank) -> None:
    """A real deposit's bytes and signature, produced again under another key."""
    _, account = await bank.funded_account(0)
    _, other = await bank.funded_account(0)
    deposit = bank.envelope(_cash_in(account, 10_00))
    value = deposit.to_bytes()
    headers = signed(ACCOUNTS_COMMANDS, account.encode(), value, "payments")
    await bank.send_envelope(deposit)
    assert (await bank.reply_to(deposit)).type == ev.AccountCredited.TYPE

    await bank.producer.send_and_wait(ACCOUNTS_COMMANDS, value, key=other.encode(), headers=headers)

    letter = await bank.dead_letter(lambda r: r.value == value and r.key == other.encode())
    assert letter.headers["error"] == "untrusted-sender: bad signature claiming payments"
    assert await bank.balances(account, other) == [(10_00, 0), (0, 0)]


@pytest.fixture
async def commands_tap(bank: Bank) -> AsyncIterator[Tap]:
    tap = Tap(bank.app.state.settings.kafka.bootstrap_servers, [ACCOUNTS_COMMANDS])
    await tap.start()
    try:
        yield tap
    finally:
        await tap.stop()


async def test_a_replayed_dead_letter_still_proves_its_sender(
    bank: Bank, commands_tap: Tap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deposit that failed for a bug (every attempt) is replayed after the fix: it goes out
    again as payments signed it, not as accounts, and is applied."""
    _, account = await bank.funded_account(0)
    deposit = bank.envelope(_cash_in(account, 42_00))
    handlers = bank.app.state.runtime.consumers[0].handlers
    apply_credit = handlers[ev.CreditAccount.TYPE]

    async def buggy(state: Any, envelope: Envelope, message: Any) -> None:
        if envelope.id == deposit.id:
            raise RuntimeError("a bug in crediting")
        await apply_credit(state, envelope, message)

    monkeypatch.setitem(handlers, ev.CreditAccount.TYPE, buggy)
    await bank.send_envelope(deposit)
    letter = await eventually(lambda: _listed_or_none(bank, deposit.id), "the deposit's dead letter")
    assert letter["error"] == "RuntimeError: a bug in crediting"
    monkeypatch.setitem(handlers, ev.CreditAccount.TYPE, apply_credit)  # the fix

    r = await bank.http.post(f"/internal/dead-letters/{letter['id']}/replay", headers=bank.operator_headers)
    assert r.status_code == 200, r.text

    assert (await bank.reply_to(deposit)).type == ev.AccountCredited.TYPE
    assert (await bank.account(account))["balance_minor"] == 42_00
    replayed = await commands_tap.wait_for(
        lambda s: s.record.value == deposit.to_bytes() and "replayed-from-dlq" in s.headers, what="the replay"
    )
    assert replayed.headers[signing.SIGNER] == "payments"


async def _listed_or_none(bank: Bank, message_id: str) -> dict[str, Any] | None:
    r = await bank.http.get("/internal/dead-letters", params={"limit": 500}, headers=bank.operator_headers)
    assert r.status_code == 200, r.text
    return next((d for d in r.json()["items"] if d["message_id"] == message_id), None)


async def test_a_dead_letter_without_a_signature_is_not_replayed(bank: Bank) -> None:
    """Re-published by accounts, it would go out under accounts' key: it is refused instead."""
    _, account = await bank.funded_account(0)
    forged = bank.envelope(_cash_in(account))
    await bank.send_raw(forged.to_bytes(), key=account, headers=[("type", forged.type.encode())])
    await _refused(bank, forged)
    letter = await _listed(bank, forged.id)

    r = await bank.http.post(f"/internal/dead-letters/{letter['id']}/replay", headers=bank.operator_headers)

    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("unsigned-dead-letter")
    await bank.barrier(account)
    assert (await bank.account(account))["balance_minor"] == 0


async def test_a_forged_command_with_an_overlong_id_is_still_dead_lettered(bank: Bank) -> None:
    """The forger picks the envelope id: one longer than the dead_letter table keeps must
    not make dead-lettering fail (PostgreSQL refuses the row) and stall the partition."""
    _, account = await bank.funded_account(0)
    forged = bank.envelope(_cash_in(account), envelope_id="x" * 200)

    await bank.send_raw(forged.to_bytes(), key=account, headers=[("type", forged.type.encode())])

    assert (await _refused(bank, forged)).headers["error"] == "untrusted-sender: no signature"
    assert (await bank.account(account))["balance_minor"] == 0


async def test_a_forged_command_with_an_overlong_key_is_still_dead_lettered(bank: Bank) -> None:
    """The forger picks the Kafka key too: one longer than the tables keep is cut in the
    dead letter rather than failing it (PostgreSQL refuses the row) and stalling the partition."""
    _, account = await bank.funded_account(0)
    forged = bank.envelope(_cash_in(account))
    key = account + "x" * 300

    await bank.send_raw(forged.to_bytes(), key=key, headers=[("type", forged.type.encode())])
    await bank.barrier(account, key=key.encode())

    assert bank.replies_to(forged) == []
    copy = await bank.dead_letter(lambda r: r.value == forged.to_bytes(), what="the overlong key's dead letter")
    assert copy.headers["error"] == "untrusted-sender: no signature"
    assert (await _listed(bank, forged.id))["key"] == key[:200]
    assert (await bank.account(account))["balance_minor"] == 0
