"""Money moves only through accounts.commands; each command is answered by one fact."""

from __future__ import annotations

import uuid

import pytest

from shared.events import accounts as ev
from shared.events.envelope import Envelope
from shared.schemas.statements import LineKind, ReferenceKind
from tests.integration.harness import CASH_IN, Bank

pytestmark = pytest.mark.broker


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


# Both sides' statement lines of a payment, as payments sends them with its capture.
LUNCH = ev.StatementText(
    reference_kind=ReferenceKind.PAYMENT,
    reference_id="pay-1",
    debit_kind=LineKind.TRANSFER_OUT,
    debit_description="Transfer to *i: lunch",
    credit_kind=LineKind.TRANSFER_IN,
    credit_description="Transfer from *g: lunch",
)


async def test_reserve_places_a_hold_and_lowers_available(bank: Bank) -> None:
    _, account = await bank.funded_account(1_000_00)
    hold_id = new_id("hold")

    reply = await bank.command(
        ev.ReserveFunds(account_id=account, hold_id=hold_id, amount_minor=250_00, reference="bill 42")
    )

    assert reply.type == ev.FundsReserved.TYPE
    assert reply.data == {
        "account_id": account,
        "hold_id": hold_id,
        "amount_minor": 250_00,
        "currency": "CNY",
        "available_minor": 750_00,
    }
    assert reply.source == "accounts" and reply.subject == account
    state = await bank.account(account)
    assert (state["balance_minor"], state["held_minor"], state["available_minor"]) == (1_000_00, 250_00, 750_00)
    assert state["available"] == "750.00"


async def test_reply_carries_the_commands_correlation_id(bank: Bank) -> None:
    _, account = await bank.funded_account(100)
    command = await bank.send(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=1))

    reply = await bank.reply_to(command)

    assert reply.correlation_id == command.correlation_id
    assert reply.causation_id == command.id


async def test_reserve_beyond_available_is_rejected_and_changes_nothing(bank: Bank) -> None:
    _, account = await bank.funded_account(100_00)
    await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=60_00))

    reply = await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=40_01))

    assert reply.type == ev.ReservationRejected.TYPE
    assert reply.data["reason"] == "insufficient_funds"
    assert reply.data["detail"]
    assert await bank.balances(account) == [(100_00, 60_00)]


async def test_class_ii_daily_limit_counts_holds(bank: Bank) -> None:
    customer = await bank.new_customer(kyc_class="II")
    account = await bank.open_account(customer)
    await bank.fund(account, 20_000_00)  # class II: no balance cap, 10 000.00 a day out

    first = await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=6_000_00))
    over = await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=4_000_01))
    exact = await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=4_000_00))

    assert first.type == ev.FundsReserved.TYPE
    assert over.type == ev.ReservationRejected.TYPE
    assert over.data["reason"] == "limit_exceeded"
    assert exact.type == ev.FundsReserved.TYPE
    assert await bank.balances(account) == [(20_000_00, 10_000_00)]


async def test_class_ii_daily_limit_counts_transfers_already_made(bank: Bank) -> None:
    customer = await bank.new_customer(kyc_class="II")
    account = await bank.open_account(customer)
    _, payee = await bank.funded_account(0)
    await bank.fund(account, 20_000_00)

    paid = await bank.command(
        ev.TransferFunds(account_id=account, transfer_id=new_id("tr"), to_account_id=payee, amount_minor=9_000_00)
    )
    refused = await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=1_000_01))

    assert paid.type == ev.FundsTransferred.TYPE
    assert refused.type == ev.ReservationRejected.TYPE
    assert refused.data["reason"] == "limit_exceeded"


async def test_class_ii_daily_limit_holds_within_one_burst_of_commands(bank: Bank) -> None:
    """The daily outflow is kept in memory across a batch: holds placed, captured and
    released earlier in the same batch count exactly as if each were committed alone."""
    customer = await bank.new_customer(kyc_class="II")
    account = await bank.open_account(customer)
    _, payee = await bank.funded_account(0)
    await bank.fund(account, 30_000_00)
    first, second, third, fourth = (new_id("hold") for _ in range(4))

    def wrap(message: ev.ReserveFunds | ev.CaptureHold | ev.ReleaseHold) -> Envelope:
        return bank.envelope(message)

    burst = [
        wrap(ev.ReserveFunds(account_id=account, hold_id=first, amount_minor=6_000_00)),
        wrap(ev.CaptureHold(account_id=account, hold_id=first, target_account_id=payee)),  # paid 6,000
        wrap(ev.ReserveFunds(account_id=account, hold_id=second, amount_minor=4_000_01)),  # 1 fen over
        wrap(ev.ReserveFunds(account_id=account, hold_id=third, amount_minor=4_000_00)),  # exactly 10,000
        wrap(ev.ReleaseHold(account_id=account, hold_id=third)),  # frees 4,000 of today's limit
        wrap(ev.ReserveFunds(account_id=account, hold_id=fourth, amount_minor=4_000_00)),
    ]
    await bank.send_burst(burst)
    replies = [(await bank.reply_to(e)).type for e in burst]

    assert replies == [
        ev.FundsReserved.TYPE,
        ev.HoldCaptured.TYPE,
        ev.ReservationRejected.TYPE,
        ev.FundsReserved.TYPE,
        ev.HoldReleased.TYPE,
        ev.FundsReserved.TYPE,
    ]
    over = await bank.command(ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=1))
    assert over.type == ev.ReservationRejected.TYPE and over.data["reason"] == "limit_exceeded"
    assert await bank.balances(account) == [(24_000_00, 4_000_00)]
    assert (await bank.ledger_check())["ok"]


async def test_a_burst_on_one_account_writes_what_the_commands_one_by_one_would(bank: Bank) -> None:
    """A batch works on the rows in memory and writes them when it commits: a hold and a
    daily outflow that existed before, rows made and changed within the batch, balances
    every command moved and the statement lines in command order all end up stored."""
    customer = await bank.new_customer(kyc_class="II")  # 10,000.00 a day out
    payer = await bank.open_account(customer)
    _, payee = await bank.funded_account(0)
    await bank.fund(payer, 20_000_00)
    earlier = new_id("hold")
    await bank.command(ev.ReserveFunds(account_id=payer, hold_id=earlier, amount_minor=1_000_00))
    await bank.command(
        ev.TransferFunds(account_id=payer, transfer_id=new_id("tr"), to_account_id=payee, amount_minor=2_000_00)
    )
    captured, released, rejected = (new_id("hold") for _ in range(3))
    burst = [
        bank.envelope(message)
        for message in [
            ev.CaptureHold(account_id=payer, hold_id=earlier, target_account_id=payee, amount_minor=600_00),
            ev.ReserveFunds(account_id=payer, hold_id=captured, amount_minor=5_000_00),
            ev.CaptureHold(account_id=payer, hold_id=captured, target_account_id=payee),  # paid 7,600 today
            ev.ReserveFunds(account_id=payer, hold_id=released, amount_minor=2_400_00),  # exactly 10,000
            ev.ReserveFunds(account_id=payer, hold_id=rejected, amount_minor=1),
            ev.ReleaseHold(account_id=payer, hold_id=released),
            ev.CreditAccount(account_id=payer, credit_id=new_id("cr"), source_account_id=CASH_IN, amount_minor=100_00),
            ev.TransferFunds(account_id=payer, transfer_id=new_id("tr"), to_account_id=payee, amount_minor=400_00),
            ev.CaptureHold(account_id=payer, hold_id=earlier, target_account_id=payee),  # re-sent
        ]
    ]
    await bank.send_burst(burst)
    replies = [await bank.reply_to(e) for e in burst]

    assert [r.type.split(".")[1] for r in replies] == [
        "HoldCaptured",
        "FundsReserved",
        "HoldCaptured",
        "FundsReserved",
        "ReservationRejected",
        "HoldReleased",
        "AccountCredited",
        "FundsTransferred",
        "HoldCaptured",
    ]
    assert replies[-1].data == replies[0].data
    assert await bank.balances(payer, payee) == [(12_100_00, 0), (8_000_00, 0)]
    # The holds as stored, answered by re-sent commands in later batches.
    again = [
        await bank.command(ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee))
        for hold_id in (earlier, captured)
    ]
    assert [(r.data["amount_minor"], r.data["released_minor"]) for r in again] == [(600_00, 400_00), (5_000_00, 0)]
    assert [r.data["entry_id"] for r in again] == [replies[0].data["entry_id"], replies[2].data["entry_id"]]
    assert (await bank.command(ev.ReleaseHold(account_id=payer, hold_id=released))).type == ev.HoldReleased.TYPE
    refused = await bank.command(ev.ReserveFunds(account_id=payer, hold_id=rejected, amount_minor=1))
    assert (refused.type, refused.data["reason"]) == (ev.ReservationRejected.TYPE, "limit_exceeded")
    # Today's outflow as stored: 8,000.00 paid, so 2,000.00 more fits and not a fen beyond.
    fits = await bank.command(ev.ReserveFunds(account_id=payer, hold_id=new_id("hold"), amount_minor=2_000_00))
    over = await bank.command(ev.ReserveFunds(account_id=payer, hold_id=new_id("hold"), amount_minor=1))
    assert (fits.type, over.type) == (ev.FundsReserved.TYPE, ev.ReservationRejected.TYPE)
    lines = list(reversed(await bank.statement(payer)))
    assert [(line["direction"], line["amount_minor"], line["balance_after_minor"]) for line in lines] == [
        ("credit", 20_000_00, 20_000_00),
        ("debit", -2_000_00, 18_000_00),
        ("debit", -600_00, 17_400_00),
        ("debit", -5_000_00, 12_400_00),
        ("credit", 100_00, 12_500_00),
        ("debit", -400_00, 12_100_00),
    ]
    assert [line["amount_minor"] for line in reversed(await bank.statement(payee))] == [
        2_000_00,
        600_00,
        5_000_00,
        400_00,
    ]
    assert (await bank.ledger_check())["ok"]


async def test_release_frees_the_hold_and_repeats_harmlessly(bank: Bank) -> None:
    _, account = await bank.funded_account(500_00)
    hold_id = new_id("hold")
    await bank.command(ev.ReserveFunds(account_id=account, hold_id=hold_id, amount_minor=200_00))

    first = await bank.command(ev.ReleaseHold(account_id=account, hold_id=hold_id))
    again = await bank.command(ev.ReleaseHold(account_id=account, hold_id=hold_id))

    assert first.type == again.type == ev.HoldReleased.TYPE
    assert first.data == again.data == {"account_id": account, "hold_id": hold_id, "amount_minor": 200_00}
    assert await bank.balances(account) == [(500_00, 0)]


async def test_release_before_the_reservation_keeps_the_late_hold_from_taking_funds(bank: Bank) -> None:
    _, account = await bank.funded_account(500_00)
    hold_id = new_id("hold")

    released = await bank.command(ev.ReleaseHold(account_id=account, hold_id=hold_id))
    late = await bank.command(ev.ReserveFunds(account_id=account, hold_id=hold_id, amount_minor=200_00))

    assert released.type == ev.HoldReleased.TYPE
    assert late.type == ev.HoldReleased.TYPE
    assert await bank.balances(account) == [(500_00, 0)]


async def test_full_capture_posts_the_hold_into_another_account(bank: Bank) -> None:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    hold_id = new_id("hold")
    await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=300_00))

    reply = await bank.command(
        ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee, description="coffee")
    )

    assert reply.type == ev.HoldCaptured.TYPE
    assert reply.data["amount_minor"] == 300_00
    assert reply.data["released_minor"] == 0
    assert reply.data["target_account_id"] == payee
    assert await bank.balances(payer, payee) == [(700_00, 0), (300_00, 0)]
    [line] = await bank.statement(payee)
    # A command without statement text (version 1) posts its description on both sides.
    assert (line["kind"], line["direction"], line["amount_minor"]) == ("other", "credit", 300_00)
    assert line["entry_id"] == reply.data["entry_id"]
    assert line["counterparty_account_id"] is None  # another customer's: theirs to give
    assert line["description"] == "coffee"


async def test_partial_capture_posts_part_and_releases_the_rest(bank: Bank) -> None:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    hold_id = new_id("hold")
    await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=300_00))

    reply = await bank.command(
        ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee, amount_minor=120_00)
    )

    assert reply.type == ev.HoldCaptured.TYPE
    assert (reply.data["amount_minor"], reply.data["released_minor"]) == (120_00, 180_00)
    assert await bank.balances(payer, payee) == [(880_00, 0), (120_00, 0)]
    payer_state = await bank.account(payer)
    assert payer_state["available_minor"] == 880_00


async def test_capture_of_more_than_the_hold_is_rejected_and_the_hold_stays(bank: Bank) -> None:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    hold_id = new_id("hold")
    await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=300_00))

    reply = await bank.command(
        ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee, amount_minor=300_01)
    )

    assert reply.type == ev.CaptureRejected.TYPE
    assert reply.data["reason"] == "invalid_amount"
    assert await bank.balances(payer, payee) == [(1_000_00, 300_00), (0, 0)]
    await bank.command(ev.ReleaseHold(account_id=payer, hold_id=hold_id))


@pytest.mark.parametrize(("released", "reason"), [(True, "hold_not_active"), (False, "hold_not_found")])
async def test_capture_of_a_hold_that_is_not_active_is_rejected(bank: Bank, released: bool, reason: str) -> None:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    hold_id = new_id("hold")
    if released:
        await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=300_00))
        await bank.command(ev.ReleaseHold(account_id=payer, hold_id=hold_id))

    reply = await bank.command(ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee))

    assert reply.type == ev.CaptureRejected.TYPE
    assert reply.data["reason"] == reason
    assert await bank.balances(payer, payee) == [(1_000_00, 0), (0, 0)]


async def test_credit_into_class_iii_above_the_cap_is_rejected(bank: Bank) -> None:
    customer = await bank.new_customer(kyc_class="III")
    account = await bank.open_account(customer)
    await bank.fund(account, 1_500_00)  # class III: at most 2 000.00 held

    over = await bank.command(
        ev.CreditAccount(account_id=account, credit_id=new_id("cr"), source_account_id=CASH_IN, amount_minor=500_01)
    )
    upto = await bank.command(
        ev.CreditAccount(account_id=account, credit_id=new_id("cr"), source_account_id=CASH_IN, amount_minor=500_00)
    )

    assert over.type == ev.CreditRejected.TYPE
    assert over.data["reason"] == "balance_cap_exceeded"
    assert upto.type == ev.AccountCredited.TYPE
    assert upto.data["balance_minor"] == 2_000_00
    assert await bank.balances(account) == [(2_000_00, 0)]


async def test_credit_from_a_customer_account_is_rejected(bank: Bank) -> None:
    _, rich = await bank.funded_account(1_000_00)
    _, account = await bank.funded_account(0)

    reply = await bank.command(
        ev.CreditAccount(account_id=account, credit_id=new_id("cr"), source_account_id=rich, amount_minor=1_00)
    )

    assert reply.type == ev.CreditRejected.TYPE
    assert reply.data["reason"] == "invalid_amount"
    assert await bank.balances(rich, account) == [(1_000_00, 0), (0, 0)]


async def test_transfer_moves_money_in_one_entry(bank: Bank) -> None:
    _, source = await bank.funded_account(1_000_00)
    _, target = await bank.funded_account(50_00)
    transfer_id = new_id("tr")

    reply = await bank.command(
        ev.TransferFunds(account_id=source, transfer_id=transfer_id, to_account_id=target, amount_minor=400_00)
    )

    assert reply.type == ev.FundsTransferred.TYPE
    assert reply.data["transfer_id"] == transfer_id
    assert await bank.balances(source, target) == [(600_00, 0), (450_00, 0)]
    debit, credit = (await bank.statement(source))[0], (await bank.statement(target))[0]
    assert debit["entry_id"] == credit["entry_id"] == reply.data["entry_id"]
    assert (debit["amount_minor"], debit["direction"], debit["balance_after_minor"]) == (-400_00, "debit", 600_00)
    assert (credit["amount_minor"], credit["direction"], credit["balance_after_minor"]) == (400_00, "credit", 450_00)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(1_000_01, "insufficient_funds"), (1_00, "invalid_amount")],
    ids=["more than the balance", "to itself"],
)
async def test_transfer_refusals(bank: Bank, amount: int, reason: str) -> None:
    _, source = await bank.funded_account(1_000_00)
    _, other = await bank.funded_account(0)
    target = other if reason == "insufficient_funds" else source

    reply = await bank.command(
        ev.TransferFunds(account_id=source, transfer_id=new_id("tr"), to_account_id=target, amount_minor=amount)
    )

    assert reply.type == ev.TransferRejected.TYPE
    assert reply.data["reason"] == reason
    assert await bank.balances(source, other) == [(1_000_00, 0), (0, 0)]


async def test_currency_mismatch_is_rejected(bank: Bank) -> None:
    _, account = await bank.funded_account(100_00)

    reply = await bank.command(
        ev.ReserveFunds(account_id=account, hold_id=new_id("hold"), amount_minor=1_00, currency="USD")
    )

    assert reply.type == ev.ReservationRejected.TYPE
    assert reply.data["reason"] == "currency_mismatch"


def _unknown_account_commands(known: str, unknown: str) -> list[tuple[ev.AccountCommand, str]]:
    return [
        (ev.ReserveFunds(account_id=unknown, hold_id=new_id("hold"), amount_minor=1_00), ev.ReservationRejected.TYPE),
        (
            ev.CreditAccount(account_id=unknown, credit_id=new_id("cr"), source_account_id=CASH_IN, amount_minor=1_00),
            ev.CreditRejected.TYPE,
        ),
        (
            ev.TransferFunds(account_id=known, transfer_id=new_id("tr"), to_account_id=unknown, amount_minor=1_00),
            ev.TransferRejected.TYPE,
        ),
        (
            ev.TransferFunds(account_id=unknown, transfer_id=new_id("tr"), to_account_id=known, amount_minor=1_00),
            ev.TransferRejected.TYPE,
        ),
    ]


@pytest.mark.parametrize("case", range(4), ids=["reserve", "credit", "transfer to", "transfer from"])
async def test_unknown_account_is_rejected_as_account_not_found(bank: Bank, case: int) -> None:
    _, known = await bank.funded_account(100_00)
    unknown = str(uuid.uuid4())
    command, rejection = _unknown_account_commands(known, unknown)[case]

    reply = await bank.command(command)

    assert reply.type == rejection
    assert reply.data["reason"] == "account_not_found"
    assert unknown in reply.data["detail"]
    assert await bank.balances(known) == [(100_00, 0)]


async def test_a_capture_with_statement_text_reads_from_each_side(bank: Bank) -> None:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    hold_id = new_id("hold")
    await bank.command(ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=88_00))

    reply = await bank.command(
        ev.CaptureHold(account_id=payer, hold_id=hold_id, target_account_id=payee, description="x", statement=LUNCH)
    )

    assert reply.type == ev.HoldCaptured.TYPE
    [paid] = [line for line in await bank.statement(payer) if line["entry_id"] == reply.data["entry_id"]]
    [received] = await bank.statement(payee)
    seen = [
        (line["kind"], line["description"], line["reference_kind"], line["reference_id"]) for line in (paid, received)
    ]
    assert seen == [
        ("transfer_out", "Transfer to *i: lunch", "payment", "pay-1"),
        ("transfer_in", "Transfer from *g: lunch", "payment", "pay-1"),
    ]


async def test_a_credit_with_statement_text_names_its_deposit(bank: Bank) -> None:
    _, account = await bank.funded_account(0)
    text = ev.StatementText(
        reference_kind=ReferenceKind.DEPOSIT,
        reference_id="dep-1",
        debit_kind=LineKind.DEPOSIT,
        debit_description=f"Sandbox deposit to {account}",
        credit_kind=LineKind.DEPOSIT,
        credit_description="Sandbox deposit",
    )

    reply = await bank.command(
        ev.CreditAccount(
            account_id=account, credit_id=new_id("cr"), source_account_id=CASH_IN, amount_minor=5_00, statement=text
        )
    )

    assert reply.type == ev.AccountCredited.TYPE
    [line] = [line for line in await bank.statement(account) if line["entry_id"] == reply.data["entry_id"]]
    assert (line["kind"], line["description"], line["reference_kind"], line["reference_id"]) == (
        "deposit",
        "Sandbox deposit",
        "deposit",
        "dep-1",
    )


# --- a reservation captured at once (ReserveFunds version 2, a payment risk approved) ------------


async def test_a_reservation_with_a_target_is_captured_in_the_same_transaction(bank: Bank) -> None:
    _, payer = await bank.funded_account(1_000_00)
    _, payee = await bank.funded_account(0)
    command = ev.ReserveFunds(
        account_id=payer, hold_id=new_id("pay"), amount_minor=88_00, target_account_id=payee, statement=LUNCH
    )

    reply = await bank.command(command)
    again = await bank.command(command)  # re-sent by the saga's timeout: the same answer, nothing moved twice

    assert reply.type == again.type == ev.HoldCaptured.TYPE
    assert reply.data == again.data
    assert (reply.data["amount_minor"], reply.data["released_minor"]) == (88_00, 0)
    assert await bank.balances(payer, payee) == [(912_00, 0), (88_00, 0)]
    [paid] = [line for line in await bank.statement(payer) if line["entry_id"] == reply.data["entry_id"]]
    [received] = await bank.statement(payee)
    assert (paid["kind"], paid["description"]) == ("transfer_out", "Transfer to *i: lunch")
    assert (received["kind"], received["description"]) == ("transfer_in", "Transfer from *g: lunch")
    assert (await bank.ledger_check())["ok"]


async def test_a_reservation_with_a_target_beyond_available_is_rejected_and_moves_nothing(bank: Bank) -> None:
    _, payer = await bank.funded_account(100_00)
    _, payee = await bank.funded_account(0)

    reply = await bank.command(
        ev.ReserveFunds(account_id=payer, hold_id=new_id("pay"), amount_minor=100_01, target_account_id=payee)
    )

    assert (reply.type, reply.data["reason"]) == (ev.ReservationRejected.TYPE, "insufficient_funds")
    assert await bank.balances(payer, payee) == [(100_00, 0), (0, 0)]


async def test_a_refused_capture_leaves_the_hold_placed_for_its_sender_to_release(bank: Bank) -> None:
    _, payer = await bank.funded_account(3_000_00)
    capped = await bank.new_customer(kyc_class="III")
    payee = await bank.open_account(capped)
    await bank.fund(payee, 1_500_00)  # class III: at most 2 000.00
    hold_id = new_id("pay")

    reply = await bank.command(
        ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=600_00, target_account_id=payee)
    )

    assert (reply.type, reply.data["reason"]) == (ev.CaptureRejected.TYPE, "balance_cap_exceeded")
    assert await bank.balances(payer, payee) == [(3_000_00, 600_00), (1_500_00, 0)]
    released = await bank.command(ev.ReleaseHold(account_id=payer, hold_id=hold_id))
    assert released.type == ev.HoldReleased.TYPE
    assert await bank.balances(payer) == [(3_000_00, 0)]


async def test_a_release_after_the_capture_landed_answers_the_capture_and_moves_nothing_back(bank: Bank) -> None:
    """A payment that gave up waiting sends a release; the ledger's truth is the capture."""
    _, payer = await bank.funded_account(500_00)
    _, payee = await bank.funded_account(0)
    hold_id = new_id("pay")
    paid = await bank.command(
        ev.ReserveFunds(account_id=payer, hold_id=hold_id, amount_minor=200_00, target_account_id=payee)
    )

    late = await bank.command(ev.ReleaseHold(account_id=payer, hold_id=hold_id))

    assert late.type == ev.HoldCaptured.TYPE
    assert late.data["entry_id"] == paid.data["entry_id"]
    assert await bank.balances(payer, payee) == [(300_00, 0), (200_00, 0)]
    assert (await bank.ledger_check())["ok"]
