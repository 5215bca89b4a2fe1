"""A session on a device bound less than a day ago, as payments sees it in the token the
gateway signs (claim `ndu`): `GET /v1/payments/limits` shows its lower limits, what is
left of them today and until when, and it may not set up a scheduled transfer or a
standing order, whose runs the bank makes later with no device to hold to limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.auth import NEW_DEVICE_CLAIM
from shared.clock import Clock
from tests.integration.payments.harness import Payer, Payments
from tests.integration.payments.test_requests import assert_problem

pytestmark = pytest.mark.broker

LIMITS = "/v1/payments/limits"


def clock_of(payments: Payments) -> Clock:
    return payments.app.state.ctx.clock  # type: ignore[no-any-return]


def on_new_device(payments: Payments, payer: Payer, hours_left: float = 20) -> tuple[dict[str, str], datetime]:
    """The payer's headers from a new device, new for `hours_left` more hours of the sandbox
    clock (what the gateway signs for such a session), and when that ends."""
    until = clock_of(payments).now() + timedelta(hours=hours_left)
    extra = {NEW_DEVICE_CLAIM: until.timestamp()}
    token = payments.bank.tokens.issue(payer.id, ["customer"], extra=extra)
    return {"Authorization": f"Bearer {token}"}, until


async def limits(payments: Payments, headers: dict[str, str]) -> dict[str, Any]:
    r = await payments.http.get(LIMITS, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def transfer(payments: Payments, payer: Payer, headers: dict[str, str], payee: Payer, amount: str) -> Any:
    body = {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": amount}
    return await payments.http.post(
        "/v1/payments/transfers", json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


# --- GET /v1/payments/limits ------------------------------------------------------------------


async def test_a_trusted_device_sees_no_new_device_limits(payments: Payments) -> None:
    payer = await payments.customer(kyc_class="II")

    shown = await limits(payments, payer.headers)

    assert shown["new_device"] is None
    assert shown["payable_now_minor"] == 10_000_00


async def test_a_new_device_sees_its_lower_limits_what_is_left_today_and_until_when(payments: Payments) -> None:
    payer, payee = await payments.customer(6_000_00, kyc_class="II"), await payments.customer()
    new_device, until = on_new_device(payments, payer)
    # Paid from the trusted device: the new device's daily cap counts every payment today.
    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "800.00"})
    assert done["status"] == "completed"

    shown = await limits(payments, new_device)

    device = shown["new_device"]
    assert abs(datetime.fromisoformat(device.pop("until")) - until) < timedelta(milliseconds=1)
    assert device == {
        "per_payment": "1000.00",
        "per_payment_minor": 1_000_00,
        "daily": "5000.00",
        "daily_minor": 5_000_00,
        "used_today": "800.00",
        "used_today_minor": 800_00,
        "remaining_today": "4200.00",
        "remaining_today_minor": 4_200_00,
    }
    # The class's own limits are as before; the largest payment now heeds the device's.
    assert (shown["per_payment_minor"], shown["remaining_today_minor"]) == (10_000_00, 9_200_00)
    assert (shown["payable_now"], shown["payable_now_minor"]) == ("1000.00", 1_000_00)


async def test_what_a_new_device_is_shown_payable_now_is_what_it_may_pay(payments: Payments) -> None:
    payer, payee = await payments.customer(6_000_00, kyc_class="II"), await payments.customer()
    new_device, _ = on_new_device(payments, payer)
    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "4700.00"})
    assert done["status"] == "completed"

    shown = await limits(payments, new_device)
    assert (shown["new_device"]["remaining_today_minor"], shown["payable_now"]) == (300_00, "300.00")
    refused = await transfer(payments, payer, new_device, payee, "300.01")
    assert_problem(refused, 422, "new-device-limit")
    paid = await transfer(payments, payer, new_device, payee, shown["payable_now"])
    assert paid.status_code == 202, paid.text
    await payments.settled(payer, paid.json()["id"])

    after = await limits(payments, new_device)
    assert (after["new_device"]["remaining_today_minor"], after["payable_now_minor"]) == (0, 0)


async def test_moves_between_ones_own_accounts_neither_count_toward_nor_are_held_to_a_new_devices_limits(
    payments: Payments,
) -> None:
    payer, payee = await payments.customer(9_000_00, kyc_class="II"), await payments.customer()
    savings = Payer(payer.customer, await payments.open_account(payer, "savings"))
    new_device, _ = on_new_device(payments, payer)
    moved = await payments.pay("transfers", payer, {"payee_account_id": savings.account_id, "amount": "4000.00"})
    assert moved["status"] == "completed"
    paid = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "800.00"})
    assert paid["status"] == "completed"

    # As the class's daily limit counts them: payments to others only.
    shown = await limits(payments, new_device)
    assert shown["used_today_minor"] == shown["new_device"]["used_today_minor"] == 800_00
    over_the_cap = await transfer(payments, payer, new_device, savings, "1000.01")
    assert over_the_cap.status_code == 202, over_the_cap.text
    assert (await payments.settled(payer, over_the_cap.json()["id"]))["status"] == "completed"
    assert_problem(await transfer(payments, payer, new_device, payee, "1000.01"), 422, "new-device-limit")
    assert (await limits(payments, new_device))["new_device"]["used_today_minor"] == 800_00
    assert await payments.balance(savings.account_id) == 5_000_01


async def test_once_the_device_is_a_day_old_the_limits_are_the_classs_again(payments: Payments) -> None:
    payer = await payments.customer(kyc_class="II")
    new_device, _ = on_new_device(payments, payer, hours_left=1)
    clock = clock_of(payments)
    assert (await limits(payments, new_device))["new_device"] is not None

    before = clock.offset
    clock.advance(timedelta(hours=1, seconds=1))
    try:
        shown = await limits(payments, new_device)  # the same token: payments reads its own clock
    finally:
        clock.offset = before

    assert shown["new_device"] is None and shown["payable_now_minor"] == 10_000_00


# --- schedules --------------------------------------------------------------------------------


def schedule_body(payer: Payer, payee: Payer, clock: Clock) -> dict[str, Any]:
    return {
        "payer_account_id": payer.account_id,
        "payee_account_id": payee.account_id,
        "amount": "10.00",
        "first_run_on": str(clock.bank_day() + timedelta(days=3000)),  # beyond every test's clock
        "repeat": "monthly",
    }


async def create(payments: Payments, headers: dict[str, str], body: dict[str, Any]) -> Any:
    headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    return await payments.http.post("/v1/payments/schedules", json=body, headers=headers)


async def test_a_new_device_may_not_set_up_a_standing_order(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    new_device, until = on_new_device(payments, payer)
    body = schedule_body(payer, payee, clock_of(payments))

    for kind in ("monthly", "none"):  # a standing order, and a one-off scheduled transfer
        refused = await create(payments, new_device, {**body, "repeat": kind})
        problem = assert_problem(refused, 422, "schedule-needs-trusted-device")
        assert until.astimezone(UTC).isoformat(timespec="seconds") in problem["detail"]

    listed = await payments.http.get("/v1/payments/schedules", headers=payer.headers)
    assert listed.json()["items"] == []


async def test_a_new_device_may_cancel_a_standing_order_the_trusted_one_set_up(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    new_device, _ = on_new_device(payments, payer)
    made = await create(payments, payer.headers, schedule_body(payer, payee, clock_of(payments)))
    assert made.status_code == 201, made.text

    r = await payments.http.delete(f"/v1/payments/schedules/{made.json()['id']}", headers=new_device)

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


async def test_once_the_device_is_a_day_old_it_sets_up_schedules(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    new_device, _ = on_new_device(payments, payer, hours_left=1)
    clock = clock_of(payments)
    body = schedule_body(payer, payee, clock)
    assert_problem(await create(payments, new_device, body), 422, "schedule-needs-trusted-device")

    before = clock.offset
    clock.advance(timedelta(hours=1, seconds=1))
    try:
        made = await create(payments, new_device, body)
    finally:
        clock.offset = before

    assert made.status_code == 201, made.text
    r = await payments.http.delete(f"/v1/payments/schedules/{made.json()['id']}", headers=payer.headers)
    assert r.status_code == 200, r.text
