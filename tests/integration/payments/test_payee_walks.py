"""Payments and schedules name a payee as a look-up does, so they spend the same allowance:
a customer cannot walk a list of numbers (or accounts) by transfers, even from an empty
account, to learn names and who banks here. Paying a payee met before spends nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shared.clock import Clock
from tests.integration.payments.harness import Payer, Payments
from tests.integration.payments.test_requests import assert_problem

pytestmark = pytest.mark.broker
NOBODY = "+8613000000000"  # no customer has this number


def burst(payments: Payments) -> int:
    return payments.app.state.lookups.burst  # type: ignore[no-any-return]


async def transfer(payments: Payments, payer: Payer, payee: dict[str, str], amount: str = "1.00") -> httpx.Response:
    return await payments.post("transfers", payer, {"payer_account_id": payer.account_id, "amount": amount, **payee})


async def spend_look_ups(payments: Payments, payer: Payer) -> None:
    """Use up what is left of the payer's payee look-ups on a stranger's number."""
    stranger = await payments.customer()
    answers = []
    while 429 not in answers:
        r = await payments.http.get(
            "/v1/payees/lookup", params={"phone": stranger.customer.phone}, headers=payer.headers
        )
        answers.append(r.status_code)
    assert len(answers) <= burst(payments) + 1, answers


def assert_look_ups_spent(r: httpx.Response) -> None:
    assert_problem(r, 429, "rate-limited")
    assert int(r.headers["retry-after"]) >= 1


async def test_walking_numbers_by_transfers_from_an_empty_account_is_refused_after_the_burst(
    payments: Payments,
) -> None:
    payer = await payments.customer()  # nothing to pay with: each payment fails, its 202 names the payee
    found = [await payments.customer() for _ in range(burst(payments) - 1)]

    answers = [await transfer(payments, payer, {"payee_phone": p.customer.phone}) for p in found]
    unknown = await transfer(payments, payer, {"payee_phone": NOBODY})
    next_number = await transfer(payments, payer, {"payee_phone": (await payments.customer()).customer.phone})
    next_unknown = await transfer(payments, payer, {"payee_phone": "+8613000000001"})

    assert [r.status_code for r in answers] == [202] * len(found)
    assert_problem(unknown, 422, "unknown-payee")
    assert_look_ups_spent(next_number)
    assert_look_ups_spent(next_unknown)
    for r in answers:
        assert (await payments.settled(payer, r.json()["id"]))["reason"] == "insufficient_funds"


async def test_walking_accounts_by_transfers_spends_look_ups_too(payments: Payments) -> None:
    payer, payee = await payments.customer(), await payments.customer()
    await spend_look_ups(payments, payer)

    by_account = await transfer(payments, payer, {"payee_account_id": payee.account_id})
    no_account = await transfer(payments, payer, {"payee_account_id": str(uuid.uuid4())})

    assert_look_ups_spent(by_account)
    assert_look_ups_spent(no_account)
    assert payee.account_id not in by_account.text


async def test_repeat_payments_to_payees_met_before_spend_no_look_up(payments: Payments) -> None:
    payer, paid, saved = await payments.customer(100_00), await payments.customer(), await payments.customer()
    savings = await payments.open_account(payer, "savings")
    first = await payments.pay("transfers", payer, {"payee_phone": paid.customer.phone, "amount": "1.00"})
    assert first["status"] == "completed", first
    r = await payments.http.post(
        "/v1/payees", json={"nickname": "Mum", "phone": saved.customer.phone}, headers=payer.headers
    )
    assert r.status_code == 201, r.text
    await spend_look_ups(payments, payer)

    again = [
        await transfer(payments, payer, payee)
        for payee in (
            {"payee_phone": paid.customer.phone},
            {"payee_account_id": paid.account_id},  # the account the number pays into
            {"payee_phone": paid.customer.phone},
            {"payee_phone": saved.customer.phone},
            {"payee_account_id": savings},  # one's own account
        )
    ]
    new_payee = await transfer(payments, payer, {"payee_phone": (await payments.customer()).customer.phone})

    assert [r.status_code for r in again] == [202] * len(again), [r.text for r in again]
    assert_look_ups_spent(new_payee)
    for r in again:
        assert (await payments.settled(payer, r.json()["id"]))["status"] == "completed"


async def test_a_payee_met_before_this_process_started_spends_no_look_up(payments: Payments) -> None:
    payer, paid, saved = await payments.customer(100_00), await payments.customer(), await payments.customer()
    tried = await payments.customer()
    assert (await payments.pay("transfers", payer, {"payee_account_id": paid.account_id, "amount": "1.00"}))[
        "status"
    ] == "completed"
    failed = await payments.pay("transfers", payer, {"payee_phone": tried.customer.phone, "amount": "500.00"})
    assert failed["reason"] == "insufficient_funds", failed
    r = await payments.http.post(
        "/v1/payees", json={"nickname": "Landlord", "account_id": saved.account_id}, headers=payer.headers
    )
    assert r.status_code == 201, r.text
    await spend_look_ups(payments, payer)
    ctx = payments.app.state.ctx
    ctx.known_payees.clear()  # as after a restart: what was met is read from the database
    ctx.met_payees.clear()

    again = [
        await transfer(payments, payer, payee)
        for payee in (
            {"payee_account_id": paid.account_id},
            {"payee_phone": tried.customer.phone},
            {"payee_account_id": saved.account_id},
        )
    ]

    assert [r.status_code for r in again] == [202] * len(again), [r.text for r in again]
    for r in again:
        assert (await payments.settled(payer, r.json()["id"]))["status"] == "completed"


async def test_a_payee_looked_up_first_is_paid_with_that_one_look_up(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    for _ in range(burst(payments) - 1):
        await transfer(payments, payer, {"payee_phone": NOBODY})  # 422 unknown-payee, each a look-up
    looked_up = await payments.http.get(
        "/v1/payees/lookup", params={"phone": payee.customer.phone}, headers=payer.headers
    )
    assert looked_up.status_code == 200, looked_up.text

    r = await transfer(payments, payer, {"payee_phone": payee.customer.phone})

    assert r.status_code == 202, r.text
    assert (await payments.settled(payer, r.json()["id"]))["status"] == "completed"


async def test_first_payments_to_one_payee_sent_at_once_spend_one_look_up(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    at_once = burst(payments) + 2

    answers = await asyncio.gather(
        *(transfer(payments, payer, {"payee_phone": payee.customer.phone}) for _ in range(at_once))
    )
    left = await payments.http.get("/v1/payees/lookup", params={"phone": NOBODY}, headers=payer.headers)

    assert [r.status_code for r in answers] == [202] * at_once, [r.text for r in answers if r.status_code != 202]
    assert left.status_code == 404, left.text  # look-ups were left: answered, not refused
    for r in answers:
        assert (await payments.settled(payer, r.json()["id"]))["status"] == "completed"


def standing_order(payer: Payer, payee: dict[str, str], clock: Clock) -> dict[str, Any]:
    """Monthly, far enough ahead that no run is made while the test looks."""
    first = clock.bank_day() + timedelta(days=3000)
    return {
        "payer_account_id": payer.account_id,
        "amount": "10.00",
        "first_run_on": str(first),
        "repeat": "monthly",
    } | payee


async def test_scheduling_transfers_to_payees_not_met_spends_look_ups(payments: Payments) -> None:
    payer, paid, stranger = await payments.customer(100_00), await payments.customer(), await payments.customer()
    assert (await payments.pay("transfers", payer, {"payee_account_id": paid.account_id, "amount": "1.00"}))[
        "status"
    ] == "completed"
    await spend_look_ups(payments, payer)
    clock = payments.app.state.ctx.clock

    async def schedule(payee: dict[str, str]) -> httpx.Response:
        headers = {**payer.headers, "Idempotency-Key": str(uuid.uuid4())}
        return await payments.http.post(
            "/v1/payments/schedules", json=standing_order(payer, payee, clock), headers=headers
        )

    known = await schedule({"payee_account_id": paid.account_id})
    new = await schedule({"payee_phone": stranger.customer.phone})
    unknown = await schedule({"payee_phone": NOBODY})

    assert known.status_code == 201, known.text
    assert_look_ups_spent(new)
    assert_look_ups_spent(unknown)
    cancelled = await payments.http.delete(f"/v1/payments/schedules/{known.json()['id']}", headers=payer.headers)
    assert cancelled.status_code == 200, cancelled.text
