"""At-least-once delivery: a redelivered or re-sent command is answered, never re-applied.

Two layers make it so: the consumer's inbox drops an envelope id it has seen, and a
command's business id (hold, credit, transfer id) answers a re-send with the fact it
already produced.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from shared.events import accounts as ev
from tests.integration.harness import CASH_IN, Bank

pytestmark = pytest.mark.broker


@dataclass
class Scenario:
    """A command ready to send, and the accounts whose state it may change."""

    command: ev.AccountCommand
    accounts: list[str]
    fact: str  # the type of the fact it should produce


async def _credit(bank: Bank) -> Scenario:
    _, account = await bank.funded_account(0)
    command = ev.CreditAccount(
        account_id=account, credit_id=f"cr-{uuid.uuid4()}", source_account_id=CASH_IN, amount_minor=123_45
    )
    return Scenario(command, [account], ev.AccountCredited.TYPE)


async def _transfer(bank: Bank) -> Scenario:
    _, source = await bank.funded_account(1_000_00)
    _, target = await bank.funded_account(0)
    command = ev.TransferFunds(
        account_id=source, transfer_id=f"tr-{uuid.uuid4()}", to_account_id=target, amount_minor=250_00
    )
    return Scenario(command, [source, target], ev.FundsTransferred.TYPE)


async def _reserve(bank: Bank) -> Scenario:
    _, account = await bank.funded_account(1_000_00)
    command = ev.ReserveFunds(account_id=account, hold_id=f"hold-{uuid.uuid4()}", amount_minor=300_00)
    return Scenario(command, [account], ev.FundsReserved.TYPE)


async def _capture(bank: Bank) -> Scenario:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    hold_id = f"hold-{uuid.uuid4()}"
    held = await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=300_00))
    assert held.type == ev.FundsReserved.TYPE
    command = ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee, amount_minor=100_00)
    return Scenario(command, [payer, payee], ev.HoldCaptured.TYPE)


async def _release(bank: Bank) -> Scenario:
    _, account = await bank.funded_account(1_000_00)
    hold_id = f"hold-{uuid.uuid4()}"
    await bank.command(ev.ReserveFunds(account_id=account, hold_id=hold_id, amount_minor=300_00))
    return Scenario(ev.ReleaseHold(account_id=account, hold_id=hold_id), [account], ev.HoldReleased.TYPE)


async def _rejected_reserve(bank: Bank) -> Scenario:
    _, account = await bank.funded_account(100_00)
    command = ev.ReserveFunds(account_id=account, hold_id=f"hold-{uuid.uuid4()}", amount_minor=100_01)
    return Scenario(command, [account], ev.ReservationRejected.TYPE)


SCENARIOS: dict[str, Callable[[Bank], Awaitable[Scenario]]] = {
    "credit": _credit,
    "transfer": _transfer,
    "reserve": _reserve,
    "capture": _capture,
    "release": _release,
    "rejected reserve": _rejected_reserve,
}


async def _snapshot(bank: Bank, accounts: list[str]) -> list[tuple[int, int, int]]:
    """(balance, held, statement lines) per account."""
    return [(*(await bank.balances(a))[0], len(await bank.statement(a))) for a in accounts]


@pytest.mark.parametrize("back_to_back", [False, True], ids=["after the reply", "back to back"])
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_the_same_envelope_twice_is_applied_once(bank: Bank, name: str, back_to_back: bool) -> None:
    scenario = await SCENARIOS[name](bank)
    before = await _snapshot(bank, scenario.accounts)
    envelope = bank.envelope(scenario.command)

    await bank.send_envelope(envelope)
    if not back_to_back:  # the inbox drops it, rather than the batch's own de-duplication
        await bank.reply_to(envelope)
    await bank.send_envelope(envelope)
    first = await bank.reply_to(envelope)
    after_first = await _snapshot(bank, scenario.accounts)
    await bank.barrier(scenario.command.account_id)

    assert first.type == scenario.fact, first
    assert [r.id for r in bank.replies_to(envelope)] == [first.id], "the duplicate produced a second fact"
    assert await _snapshot(bank, scenario.accounts) == after_first
    if scenario.fact not in (ev.ReservationRejected.TYPE,):
        assert after_first != before, "the command itself should have changed something"


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_resent_command_gets_the_same_fact_and_applies_nothing(bank: Bank, name: str) -> None:
    scenario = await SCENARIOS[name](bank)
    first = await bank.command(scenario.command)
    after_first = await _snapshot(bank, scenario.accounts)

    again = await bank.command(scenario.command)  # a new envelope id, the same business id

    assert first.type == scenario.fact, first
    assert again.id != first.id
    assert (again.type, again.data) == (first.type, first.data)
    assert await _snapshot(bank, scenario.accounts) == after_first


async def test_a_resent_credit_posts_one_journal_entry(bank: Bank) -> None:
    scenario = await _credit(bank)
    [account] = scenario.accounts

    replies = [await bank.command(scenario.command) for _ in range(3)]

    entries = {r.data["entry_id"] for r in replies}
    statement = await bank.statement(account)
    assert len(entries) == 1
    assert [line["entry_id"] for line in statement] == list(entries)
    assert (await bank.account(account))["balance_minor"] == 123_45


async def test_a_burst_applied_in_one_batch_ends_as_if_applied_one_by_one(bank: Bank) -> None:
    """Sent without waiting, these reach the consumer together and share one transaction."""
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    h1, h2 = f"hold-{uuid.uuid4()}", f"hold-{uuid.uuid4()}"
    burst = [
        ev.ReserveFunds(account_id=payer, hold_id=h1, amount_minor=300_00),
        ev.CaptureHold(account_id=payer, hold_id=h1, target_account_id=payee, amount_minor=200_00),
        ev.CreditAccount(
            account_id=payer, credit_id=f"cr-{uuid.uuid4()}", source_account_id=CASH_IN, amount_minor=50_00
        ),
        ev.TransferFunds(account_id=payer, transfer_id=f"tr-{uuid.uuid4()}", to_account_id=payee, amount_minor=100_00),
        ev.ReserveFunds(account_id=payer, hold_id=h2, amount_minor=700_00),  # 750.00 available: fits
        ev.ReserveFunds(account_id=payer, hold_id=f"hold-{uuid.uuid4()}", amount_minor=50_01),  # 50.00 left
        ev.ReleaseHold(account_id=payer, hold_id=h2),
        ev.ReserveFunds(account_id=payer, hold_id=h1, amount_minor=1_00),  # re-sent: already captured
    ]
    envelopes = [bank.envelope(c) for c in burst]
    await bank.send_burst(envelopes)

    replies = [await bank.reply_to(e) for e in envelopes]

    assert [r.type.split(".")[1] for r in replies] == [
        "FundsReserved",
        "HoldCaptured",
        "AccountCredited",
        "FundsTransferred",
        "FundsReserved",
        "ReservationRejected",
        "HoldReleased",
        "HoldCaptured",
    ]
    assert replies[5].data["reason"] == "insufficient_funds"
    assert await bank.balances(payer, payee) == [(750_00, 0), (300_00, 0)]


async def test_a_resent_credit_with_other_terms_does_not_report_money_that_never_moved(bank: Bank) -> None:
    """A business id is answered with what it posted, never with the re-sent command's
    terms: a fact that says 'credited B' when A was credited misleads every saga."""
    _, first_account = await bank.funded_account(0)
    _, other_account = await bank.funded_account(0)
    credit_id = f"cr-{uuid.uuid4()}"
    original = ev.CreditAccount(
        account_id=first_account, credit_id=credit_id, source_account_id=CASH_IN, amount_minor=10_00
    )
    first = await bank.command(original)

    again = await bank.command(original.model_copy(update={"account_id": other_account, "amount_minor": 99_00}))

    assert await bank.balances(first_account, other_account) == [(10_00, 0), (0, 0)]
    if again.type == ev.AccountCredited.TYPE:
        assert again.data == first.data
    else:
        assert again.type == ev.CreditRejected.TYPE


async def test_a_resent_transfer_with_another_amount_does_not_report_money_that_never_moved(bank: Bank) -> None:
    _, source = await bank.funded_account(1_000_00)
    _, target = await bank.funded_account(0)
    original = ev.TransferFunds(
        account_id=source, transfer_id=f"tr-{uuid.uuid4()}", to_account_id=target, amount_minor=100_00
    )
    first = await bank.command(original)

    again = await bank.command(original.model_copy(update={"amount_minor": 900_00}))

    assert await bank.balances(source, target) == [(900_00, 0), (100_00, 0)]
    if again.type == ev.FundsTransferred.TYPE:
        assert again.data == first.data
    else:
        assert again.type == ev.TransferRejected.TYPE


async def test_a_rejected_credit_resent_later_is_still_rejected(bank: Bank) -> None:
    """A saga that heard CreditRejected has compensated; a late re-send of the same
    credit (a timeout's retry) must not pay out after all."""
    customer = await bank.new_customer(kyc_class="III")
    account = await bank.open_account(customer)
    _, elsewhere = await bank.funded_account(0)
    await bank.fund(account, 2_000_00)  # at the class III cap
    credit = ev.CreditAccount(
        account_id=account, credit_id=f"cr-{uuid.uuid4()}", source_account_id=CASH_IN, amount_minor=100_00
    )
    rejected = await bank.command(credit)
    assert rejected.data["reason"] == "balance_cap_exceeded"
    moved = await bank.command(
        ev.TransferFunds(
            account_id=account, transfer_id=f"tr-{uuid.uuid4()}", to_account_id=elsewhere, amount_minor=500_00
        )
    )
    assert moved.type == ev.FundsTransferred.TYPE

    again = await bank.command(credit)

    assert (again.type, again.data) == (rejected.type, rejected.data)
    assert await bank.balances(account) == [(1_500_00, 0)]


async def test_a_rejected_transfer_resent_later_is_still_rejected(bank: Bank) -> None:
    _, source = await bank.funded_account(10_00)
    _, target = await bank.funded_account(0)
    transfer = ev.TransferFunds(
        account_id=source, transfer_id=f"tr-{uuid.uuid4()}", to_account_id=target, amount_minor=50_00
    )
    rejected = await bank.command(transfer)
    assert rejected.data["reason"] == "insufficient_funds"
    await bank.fund(source, 100_00)

    again = await bank.command(transfer)

    assert (again.type, again.data) == (rejected.type, rejected.data)
    assert await bank.balances(source, target) == [(110_00, 0), (0, 0)]
