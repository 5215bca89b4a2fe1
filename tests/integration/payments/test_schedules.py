"""Scheduled transfers and standing orders on the payments service's sandbox clock: the
runner makes each run an ordinary payment on its bank day, once, and a test moves the
clock to see the next ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.payments.schedules import ScheduleRunner
from shared.clock import Clock
from shared.settings import AuthSettings
from tests.integration.harness import eventually
from tests.integration.payments.harness import Payer, Payments
from tests.integration.payments.test_requests import assert_problem

pytestmark = pytest.mark.broker


@pytest.fixture
async def clock(payments: Payments) -> AsyncIterator[Clock]:
    """The payments process's sandbox clock, back where it was after the test once every
    payment it started has ended (their deadlines are on the moved clock)."""
    moved: Clock = payments.app.state.ctx.clock
    before = moved.offset
    yield moved
    await eventually(lambda: _settled(payments), "every payment ended")
    moved.offset = before


async def _settled(payments: Payments) -> bool:
    return (await payments.summary())["non_terminal"] == 0  # type: ignore[no-any-return]


def runner(payments: Payments) -> ScheduleRunner:
    return payments.app.state.schedules  # type: ignore[no-any-return]


async def create(payments: Payments, payer: Payer, body: dict[str, Any], *, key: str | None = None) -> httpx.Response:
    headers = {**payer.headers, "Idempotency-Key": key or str(uuid.uuid4())}
    return await payments.http.post(
        "/v1/payments/schedules", json={"payer_account_id": payer.account_id, **body}, headers=headers
    )


async def schedule(payments: Payments, payer: Payer, schedule_id: str) -> dict[str, Any]:
    r = await payments.http.get(f"/v1/payments/schedules/{schedule_id}", headers=payer.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def runs_ended(payments: Payments, payer: Payer, schedule_id: str, n: int) -> dict[str, Any]:
    """The schedule once it has `n` runs and none of their payments is pending."""

    async def probe() -> dict[str, Any] | None:
        s = await schedule(payments, payer, schedule_id)
        done = len(s["runs"]) == n and all(r["status"] != "pending" for r in s["runs"])
        return s if done else None

    return await eventually(probe, f"{n} runs of schedule {schedule_id}")  # type: ignore[no-any-return]


def today(clock: Clock) -> date:
    return clock.bank_day()


async def test_a_daily_standing_order_pays_each_day_until_cancelled(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    first = today(clock)

    r = await create(
        payments,
        payer,
        {
            "payee_account_id": payee.account_id,
            "amount": "10.00",
            "note": "pocket money",
            "first_run_on": str(first),
            "repeat": "daily",
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["status"], created["next_run_on"], created["runs_made"]) == ("active", str(first), 0)
    assert r.headers["location"] == f"/v1/payments/schedules/{created['id']}"

    s = await runs_ended(payments, payer, created["id"], 1)  # today's run, made by the runner
    assert s["next_run_on"] == str(first + timedelta(days=1))
    [run] = s["runs"]
    assert (run["run_on"], run["status"]) == (str(first), "completed")
    paid = await payments.get(payer, run["payment_id"])
    assert (paid["kind"], paid["amount_minor"], paid["note"]) == ("transfer", 10_00, "pocket money")

    clock.advance(timedelta(days=1))
    s = await runs_ended(payments, payer, created["id"], 2)
    assert [r["run_on"] for r in s["runs"]] == [str(first + timedelta(days=1)), str(first)]
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(80_00, 0), (20_00, 0)]

    r = await payments.http.delete(f"/v1/payments/schedules/{created['id']}", headers=payer.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["next_run_on"]) == ("cancelled", None)
    clock.advance(timedelta(days=2))
    await runner(payments).tick()

    s = await schedule(payments, payer, created["id"])
    assert (s["status"], s["runs_made"], len(s["runs"])) == ("cancelled", 2, 2)
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(80_00, 0), (20_00, 0)]


async def test_each_missed_day_runs_once_when_the_clock_jumps(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    first = today(clock) + timedelta(days=1)
    body = {"payee_account_id": payee.account_id, "amount": "5.00", "first_run_on": str(first), "repeat": "daily"}
    created = (await create(payments, payer, {**body, "count": 3})).json()
    await runner(payments).tick()
    assert (await schedule(payments, payer, created["id"]))["runs"] == []  # not yet its day

    clock.advance(timedelta(days=5))
    s = await runs_ended(payments, payer, created["id"], 3)

    assert [r["run_on"] for r in s["runs"]] == [str(first + timedelta(days=n)) for n in (2, 1, 0)]
    assert {r["status"] for r in s["runs"]} == {"completed"}
    assert (s["status"], s["next_run_on"], s["runs_made"]) == ("finished", None, 3)
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(85_00, 0), (15_00, 0)]
    assert await runner(payments).tick() == 0


async def test_a_run_that_fails_is_recorded_and_the_order_carries_on(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(10_00)
    payee = await payments.customer()
    first = today(clock)
    body = {"payee_account_id": payee.account_id, "amount": "30.00", "first_run_on": str(first), "repeat": "weekly"}
    created = (await create(payments, payer, body)).json()

    s = await runs_ended(payments, payer, created["id"], 1)

    [run] = s["runs"]
    assert (run["status"], run["reason"]) == ("failed", "insufficient_funds")
    assert (s["status"], s["next_run_on"]) == ("active", str(first + timedelta(weeks=1)))
    await payments.bank.fund(payer.account_id, 50_00)
    clock.advance(timedelta(weeks=1))
    s = await runs_ended(payments, payer, created["id"], 2)
    assert [r["status"] for r in s["runs"]] == ["completed", "failed"]
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(30_00, 0), (30_00, 0)]


async def test_the_same_key_makes_one_schedule(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(10_00)
    payee = await payments.customer()
    body = {"payee_account_id": payee.account_id, "amount": "1.00", "first_run_on": str(today(clock) + timedelta(3))}
    key = str(uuid.uuid4())
    first, again = await create(payments, payer, body, key=key), await create(payments, payer, body, key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    r = await payments.http.get("/v1/payments/schedules", params={"limit": 100}, headers=payer.headers)
    assert [s["id"] for s in r.json()["items"]] == [first.json()["id"]]


async def test_another_customers_schedule_is_not_found(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(10_00)
    other = await payments.customer()
    body = {"payee_account_id": other.account_id, "amount": "1.00", "first_run_on": str(today(clock) + timedelta(3))}
    created = (await create(payments, payer, body)).json()
    path = f"/v1/payments/schedules/{created['id']}"

    assert_problem(await payments.http.get(path, headers=other.headers), 404, "not-found")
    assert_problem(await payments.http.delete(path, headers=other.headers), 404, "not-found")
    r = await payments.http.get("/v1/payments/schedules", headers=other.headers)
    assert r.json()["items"] == []
    assert (await schedule(payments, payer, created["id"]))["status"] == "active"


@pytest.mark.parametrize(
    ("change", "slug"),
    [
        ({"first_run_on": -1}, "invalid-schedule"),
        ({"end_on": -1}, "invalid-schedule"),
        ({"repeat": "none", "count": 2}, "invalid-schedule"),
        ({"amount": "0.00"}, "invalid-amount"),
        ({"currency": "USD"}, "unsupported-currency"),
        ({"payee_account_id": "no-such-account"}, "unknown-payee"),
        ({"repeat": "yearly"}, "validation-error"),
    ],
)
async def test_a_schedule_that_cannot_run_is_refused(
    payments: Payments, clock: Clock, change: dict[str, Any], slug: str
) -> None:
    payer = await payments.customer(10_00)
    payee = await payments.customer()
    day = today(clock)
    body: dict[str, Any] = {
        "payee_account_id": payee.account_id,
        "amount": "1.00",
        "first_run_on": str(day),
        "repeat": "daily",
    } | change
    for name in ("first_run_on", "end_on"):
        if isinstance(body.get(name), int):
            body[name] = str(day + timedelta(days=body[name]))
    assert_problem(await create(payments, payer, body), 422, slug)


async def test_a_schedule_cannot_pay_into_a_securities_cash_account(payments: Payments, clock: Clock) -> None:
    """Scheduled transfers go where transfers go: checking or savings, never securities cash."""
    payer = await payments.customer(10_00)
    payee = await payments.customer()
    securities_cash = await payments.open_account(payee, "securities_cash")
    body = {"payee_account_id": securities_cash, "amount": "1.00", "first_run_on": str(today(clock))}

    assert_problem(await create(payments, payer, body), 422, "account-cannot-be-paid")


async def test_a_schedule_needs_an_idempotency_key(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer()
    payee = await payments.customer()
    body = {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": "1.00"}
    r = await payments.http.post(
        "/v1/payments/schedules", json={**body, "first_run_on": str(today(clock))}, headers=payer.headers
    )
    assert_problem(r, 400, "idempotency-key-missing")


async def test_an_amount_that_would_need_a_one_time_code_cannot_be_scheduled(payments: Payments, clock: Clock) -> None:
    auth = payments.app.state.settings.auth
    off = (auth.stepup_amount_minor, auth.stepup_new_payee_minor)
    auth.stepup_amount_minor, auth.stepup_new_payee_minor = (
        AuthSettings().stepup_amount_minor,
        AuthSettings().stepup_new_payee_minor,
    )
    try:
        payer = await payments.customer(10_000_00)
        payee = await payments.customer()
        body = {"payee_account_id": payee.account_id, "first_run_on": str(today(clock)), "repeat": "monthly"}
        assert_problem(await create(payments, payer, {**body, "amount": "6000.00"}), 422, "schedule-needs-step-up")
        assert_problem(await create(payments, payer, {**body, "amount": "2000.00"}), 422, "schedule-needs-step-up")
        # Below both thresholds: scheduled, and its run (the bank's, not the phone's) needs no code.
        created = (await create(payments, payer, {**body, "amount": "900.00"})).json()
        s = await runs_ended(payments, payer, created["id"], 1)
        assert s["runs"][0]["status"] == "completed"
    finally:
        auth.stepup_amount_minor, auth.stepup_new_payee_minor = off


async def test_runners_looking_at_once_make_each_run_one_payment(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    first = today(clock) + timedelta(days=1)
    body = {"payee_account_id": payee.account_id, "amount": "2.00", "first_run_on": str(first), "repeat": "daily"}
    created = (await create(payments, payer, body)).json()
    ours = runner(payments)
    # Another process's runner over the same database, as a second payments replica would be.
    other = ScheduleRunner(ours.ctx, ours.runtime, ours.starter, ours.directory)

    clock.advance(timedelta(days=3))
    await asyncio.gather(ours.tick(), other.tick(), ours.tick())
    s = await runs_ended(payments, payer, created["id"], 3)

    assert [r["run_on"] for r in s["runs"]] == [str(first + timedelta(days=n)) for n in (2, 1, 0)]
    assert len({r["payment_id"] for r in s["runs"]}) == 3
    assert len(await payments.listed(payer)) == 3
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(94_00, 0), (6_00, 0)]


async def test_a_one_off_transfer_to_a_phone_runs_once_and_shows_the_number(payments: Payments, clock: Clock) -> None:
    payer = await payments.customer(50_00)
    payee = await payments.customer()
    body = {"payee_phone": payee.customer.phone, "amount": "20.00", "first_run_on": str(today(clock))}
    created = (await create(payments, payer, body)).json()
    assert created["payee"]["account_id"] is None
    assert created["payee"]["reference"] == payee.customer.phone

    s = await runs_ended(payments, payer, created["id"], 1)

    assert (s["status"], s["repeat"], s["next_run_on"], s["runs"][0]["status"]) == (
        "finished",
        "none",
        None,
        "completed",
    )
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(30_00, 0), (20_00, 0)]
