"""Step-up where the money moves: payments decides, once the payment is validated and its
payee resolved. A payment that needs a one-time code is answered 403 `step-up-required`
with the facts the gateway's challenge binds, and is made only with the gateway's signed
approval of exactly it, so a request that skips the gateway skips nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared import stepup
from shared.settings import AuthSettings
from tests.integration.payments.harness import Payments
from tests.integration.payments.test_requests import assert_problem
from tests.tokens import issuer

pytestmark = pytest.mark.broker

LARGE = "6000.00"  # above AUTH_STEPUP_AMOUNT_MINOR (5,000.00)
FIRST_TIME = "2000.00"  # above AUTH_STEPUP_NEW_PAYEE_MINOR (1,000.00), below the other


@pytest.fixture(autouse=True)
def step_up_on(payments: Payments) -> Iterator[None]:
    """The thresholds every stack has unless told otherwise (the package turns them off)."""
    auth = payments.app.state.settings.auth
    off = (auth.stepup_amount_minor, auth.stepup_new_payee_minor)
    defaults = AuthSettings()
    auth.stepup_amount_minor, auth.stepup_new_payee_minor = (
        defaults.stepup_amount_minor,
        defaults.stepup_new_payee_minor,
    )
    yield
    auth.stepup_amount_minor, auth.stepup_new_payee_minor = off


def approval(
    customer_id: str, payer_account_id: str, payee_account_id: str, amount_minor: int, key: str, signer: str = "gateway"
) -> str:
    approved = stepup.Approved("transfer", f"account:{payee_account_id}", amount_minor, "CNY", payer_account_id, key)
    if signer == "gateway":
        return stepup.approval(issuer("gateway"), customer_id, approved, ttl_s=300)
    return issuer(signer).issue(customer_id, [], audience="payments", extra={"step_up": approved.claims()})


async def test_a_large_transfer_without_the_gateways_approval_is_refused_and_moves_nothing(
    payments: Payments,
) -> None:
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()

    r = await payments.post(
        "transfers",
        payer,
        {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": LARGE},
    )

    assert_problem(r, 403, "step-up-required")
    assert await payments.listed(payer) == []
    assert await payments.balance(payer.account_id) == 10_000_00


async def test_the_step_up_answer_names_the_payment_to_approve(payments: Payments) -> None:
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()
    body = {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": LARGE}

    problem = assert_problem(await payments.post("transfers", payer, body), 403, "step-up-required")

    named = ("operation", "payee", "amount_minor", "currency", "payer", "reason", "limit_minor")
    facts = {k: problem.get(k) for k in named}
    assert facts == {
        "operation": "transfer",
        "payee": f"account:{payee.account_id}",
        "amount_minor": 6_000_00,
        "currency": "CNY",
        "payer": payer.account_id,
        "reason": "amount",
        "limit_minor": 5_000_00,
    }


async def test_a_payee_named_by_phone_is_named_by_the_account_it_pays_into(payments: Payments) -> None:
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()
    body = {"payer_account_id": payer.account_id, "payee_phone": payee.customer.phone, "amount": FIRST_TIME}

    problem = assert_problem(await payments.post("transfers", payer, body), 403, "step-up-required")

    assert (problem["payee"], problem["reason"], problem["limit_minor"]) == (
        f"account:{payee.account_id}",
        "new_payee",
        1_000_00,
    )


async def test_a_first_transfer_to_a_new_payee_above_the_lower_limit_needs_an_approval(payments: Payments) -> None:
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()
    body = {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": FIRST_TIME}

    assert_problem(await payments.post("transfers", payer, body), 403, "step-up-required")


@pytest.mark.parametrize(
    ("amount_minor", "other_key", "signer"),
    [(6_000_01, False, "gateway"), (6_000_00, True, "gateway"), (6_000_00, False, "accounts")],
    ids=["another-amount", "another-key", "not-the-gateway"],
)
async def test_an_approval_of_something_else_is_refused(
    payments: Payments, amount_minor: int, other_key: bool, signer: str
) -> None:
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()
    key = str(uuid.uuid4())
    token = approval(
        payer.customer.id,
        payer.account_id,
        payee.account_id,
        amount_minor,
        str(uuid.uuid4()) if other_key else key,
        signer,
    )

    r = await payments.post(
        "transfers",
        payer,
        {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": LARGE},
        key=key,
        headers={stepup.HEADER: token},
    )

    assert_problem(r, 403, "step-up-required")
    assert await payments.listed(payer) == []


async def test_an_approval_of_a_payment_from_another_of_ones_accounts_is_refused(payments: Payments) -> None:
    """A code approves money leaving the account it was asked for: the same request under
    the same key, paid from the customer's savings instead, needs a code of its own."""
    payer = await payments.customer(10_000_00)
    savings = await payments.open_account(payer, "savings")
    await payments.bank.fund(savings, 10_000_00)
    payee = await payments.customer()
    key = str(uuid.uuid4())
    token = approval(payer.customer.id, payer.account_id, payee.account_id, 6_000_00, key)

    r = await payments.post(
        "transfers",
        payer,
        {"payer_account_id": savings, "payee_account_id": payee.account_id, "amount": LARGE},
        key=key,
        headers={stepup.HEADER: token},
    )

    assert assert_problem(r, 403, "step-up-required")["payer"] == savings
    assert await payments.listed(payer) == []
    assert await payments.balance(savings) == 10_000_00


async def test_an_approval_of_another_customer_is_refused(payments: Payments) -> None:
    payer = await payments.customer(10_000_00)
    thief = await payments.customer(10_000_00)
    key = str(uuid.uuid4())
    token = approval(thief.customer.id, payer.account_id, thief.account_id, 6_000_00, key)

    r = await payments.post(
        "transfers",
        payer,
        {"payer_account_id": payer.account_id, "payee_account_id": thief.account_id, "amount": LARGE},
        key=key,
        headers={stepup.HEADER: token},
    )

    assert_problem(r, 403, "step-up-required")


async def test_the_approved_payment_goes_through(payments: Payments) -> None:
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()
    key = str(uuid.uuid4())
    token = approval(payer.customer.id, payer.account_id, payee.account_id, 2_000_00, key)

    payment = await payments.start(
        "transfers",
        payer,
        {"payee_account_id": payee.account_id, "amount": FIRST_TIME},
        key=key,
        headers={stepup.HEADER: token},
    )

    assert (await payments.settled(payer, payment["id"]))["status"] == "completed"
    assert await payments.balance(payee.account_id) == 2_000_00


async def test_a_repeat_of_an_approved_payment_under_its_key_needs_no_new_approval(payments: Payments) -> None:
    """As when the gateway lost its stored answer: the repeat gets the payment the key made."""
    payer = await payments.customer(10_000_00)
    payee = await payments.customer()
    key = str(uuid.uuid4())
    body = {"payee_account_id": payee.account_id, "amount": FIRST_TIME}
    token = approval(payer.customer.id, payer.account_id, payee.account_id, 2_000_00, key)
    payment = await payments.start("transfers", payer, body, key=key, headers={stepup.HEADER: token})

    again = await payments.post("transfers", payer, {"payer_account_id": payer.account_id, **body}, key=key)

    assert again.status_code == 202, again.text
    assert again.json()["id"] == payment["id"]
    assert (await payments.settled(payer, payment["id"]))["status"] == "completed"
    assert [p["id"] for p in await payments.listed(payer)] == [payment["id"]]


async def test_small_payments_and_transfers_between_ones_own_accounts_need_none(payments: Payments) -> None:
    payer = await payments.customer(10_000_00)
    savings = await payments.open_account(payer, "savings")
    payee = await payments.customer()

    small = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "999.99"})
    own = await payments.pay("transfers", payer, {"payee_account_id": savings, "amount": FIRST_TIME})

    assert (small["status"], own["status"]) == ("completed", "completed")
