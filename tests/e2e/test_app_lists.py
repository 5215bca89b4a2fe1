"""The payments history and the statement as an app filters them: by status, by kind and
by a range of bank days (Beijing time, on the sandbox clock)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.clock import BANK_TZ
from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def pay(payer: Phone, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await payer.post(f"/v1/payments/{path}", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


async def ended(phone: Phone, payment_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = (await phone.get(f"/v1/payments/{payment_id}")).json()
        return body if body["status"] != "pending" else None

    return await eventually(done)  # type: ignore[no-any-return]


def bank_day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(BANK_TZ).date()


async def ids(phone: Phone, path: str, **params: Any) -> list[str]:
    r = await phone.get(path, params=params)
    assert r.status_code == 200, r.text
    return [str(i["id"]) for i in r.json()["items"]]


@pytest.fixture
async def history(gateway: httpx.AsyncClient) -> tuple[Phone, str, dict[str, dict[str, Any]]]:
    """A customer with a completed transfer, a failed one and a completed top-up."""
    payer = await register_and_login(gateway)
    source = (await payer.open_account("checking"))["id"]
    await payer.settled((await payer.deposit(source, "1000.00"))["id"])
    target = (await (await register_and_login(gateway)).open_account("checking"))["id"]
    transfer = {"payer_account_id": source, "payee_account_id": target}
    made = {
        "sent": await pay(payer, "transfers", {**transfer, "amount": "10.00"}),
        "refused": await pay(payer, "transfers", {**transfer, "amount": "666.66"}),  # the risk magic amount
        "topup": await pay(payer, "topups", {"payer_account_id": source, "phone": "+8613912345678", "amount": "50.00"}),
    }
    return payer, source, {k: await ended(payer, p["id"]) for k, p in made.items()}


async def test_the_payments_history_filters_by_status_and_kind(
    history: tuple[Phone, str, dict[str, dict[str, Any]]],
) -> None:
    payer, _, made = history
    assert made["refused"]["status"] == "failed"

    assert await ids(payer, "/v1/payments", status="failed") == [made["refused"]["id"]]
    assert await ids(payer, "/v1/payments", status="completed", kind="transfer") == [made["sent"]["id"]]
    assert await ids(payer, "/v1/payments", kind="topup") == [made["topup"]["id"]]
    assert await ids(payer, "/v1/payments", status="pending") == []


async def test_the_payments_history_and_the_statement_filter_by_bank_day(
    history: tuple[Phone, str, dict[str, dict[str, Any]]],
) -> None:
    payer, source, made = history
    day = bank_day(made["topup"]["created_at"])
    everything = await ids(payer, "/v1/payments")
    lines = await ids(payer, f"/v1/accounts/{source}/transactions")

    days = {"from": day.isoformat(), "to": day.isoformat()}
    if bank_day(made["sent"]["created_at"]) == day:  # not across a Beijing midnight
        assert await ids(payer, "/v1/payments", **days) == everything
        assert await ids(payer, f"/v1/accounts/{source}/transactions", **days) == lines
    tomorrow = (day + timedelta(days=1)).isoformat()
    assert await ids(payer, "/v1/payments", **{"from": tomorrow}) == []
    assert await ids(payer, f"/v1/accounts/{source}/transactions", **{"from": tomorrow}) == []
    assert await ids(payer, "/v1/payments", to=(day - timedelta(days=1)).isoformat()) == []


async def test_the_statement_filters_by_kind(history: tuple[Phone, str, dict[str, dict[str, Any]]]) -> None:
    payer, source, made = history
    r = await payer.get(f"/v1/accounts/{source}/transactions", params={"kind": "deposit"})

    assert r.status_code == 200, r.text
    [deposit] = r.json()["items"]
    assert (deposit["kind"], deposit["amount"], deposit["direction"]) == ("deposit", "1000.00", "credit")
    sent = (await payer.get(f"/v1/accounts/{source}/transactions", params={"kind": "transfer_out"})).json()["items"]
    assert [(line["kind"], line["reference_id"]) for line in sent] == [("transfer_out", made["sent"]["id"])]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/payments", {"status": "lost"}),
        ("/v1/payments", {"kind": "cheque"}),
        ("/v1/payments", {"from": "2026-02-30"}),
        ("/v1/payments", {"from": "2026-11-26", "to": "2026-11-25"}),
        ("/v1/accounts/{account}/transactions", {"kind": "salary"}),
        ("/v1/accounts/{account}/transactions", {"to": "last week"}),
        ("/v1/accounts/{account}/transactions", {"from": "2026-11-26", "to": "2026-11-25"}),
    ],
)
async def test_a_filter_the_list_does_not_know_is_a_422(customer: Phone, path: str, params: dict[str, str]) -> None:
    account = (await customer.open_account("checking"))["id"]
    r = await customer.get(path.format(account=account), params=params)

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["type"].endswith("/validation-error")
