"""The audit trail through the gateway: a customer's transfer, an operator's freeze and a
payment saga are in it with their actors and ids; it exports as CSV and JSON lines; every
chain verifies, and a row changed behind the bank's back is named by the check."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import eventually, register_and_login
from tools.stack import Stack

pytestmark = pytest.mark.e2e


async def trail(gateway: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await gateway.get("/v1/admin/audit", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["unavailable"] == []
    return list(r.json()["items"])


async def test_a_transfer_a_freeze_and_a_saga_are_in_the_trail(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer = await register_and_login(gateway)
    source = await payer.open_account("checking")
    await payer.settled((await payer.deposit(source["id"], "100.00"))["id"])
    target = await (await register_and_login(gateway)).open_account("checking")
    request_id = uuid.uuid4().hex
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "10.00"},
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Request-ID": request_id},
    )
    assert r.status_code == 202, r.text
    payment_id = r.json()["id"]
    r = await gateway.post(
        f"/v1/admin/accounts/{target['id']}/freeze",
        json={"mode": "outflows", "reason": "audit test"},
        headers=operator_headers,
    )
    assert r.status_code == 200

    async def saga_ended() -> list[dict[str, Any]] | None:
        found = await trail(gateway, operator_headers, customer_id=payer.customer_id)
        ended = [e for e in found if e["action"] == "saga.ended" and e["subject_id"] == payment_id]
        return found if ended else None

    entries = await eventually(saga_ended)
    asked = next(e for e in entries if e["action"] == "POST /v1/payments/transfers")
    assert asked["service"] == "gateway" and asked["actor"] == f"customer:{payer.customer_id}"
    assert asked["request_id"] == request_id and asked["before"] is None
    started = next(e for e in entries if e["action"] == "saga.started" and e["subject_id"] == payment_id)
    assert started["service"] == "payments" and started["actor"] == "system:payments"
    assert started["correlation_id"] == asked["correlation_id"]
    ended = next(e for e in entries if e["action"] == "saga.ended" and e["subject_id"] == payment_id)
    assert ended["after"]["outcome"] == "completed"
    opened = [e for e in entries if e["action"] == "account.opened"]
    assert opened and opened[0]["account_id"] == source["id"]
    times = [e["at"] for e in entries]
    assert times == sorted(times)

    frozen = await trail(gateway, operator_headers, account_id=target["id"], action="account.frozen")
    assert len(frozen) == 1 and frozen[0]["service"] == "accounts"
    assert frozen[0]["actor"].startswith("operator:")
    assert frozen[0]["before"] is None and frozen[0]["after"]["mode"] == "outflows"
    by_operator = await trail(gateway, operator_headers, actor=frozen[0]["actor"], account_id=target["id"])
    assert {e["service"] for e in by_operator} == {"gateway", "accounts"}


async def test_pages_follow_one_another_by_cursor(gateway: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    phone = await register_and_login(gateway)
    for _ in range(3):
        await phone.open_account("savings")
    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"customer_id": phone.customer_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await gateway.get("/v1/admin/audit", params=params, headers=operator_headers)).json()
        seen += [(e["service"], e["seq"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = await trail(gateway, operator_headers, customer_id=phone.customer_id)
    assert seen == [(e["service"], e["seq"]) for e in everything] and len(seen) >= 6
    bad = await gateway.get("/v1/admin/audit", params={"cursor": "not-a-cursor"}, headers=operator_headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_the_trail_exports_as_csv_and_json_lines(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    params = {"customer_id": phone.customer_id}
    r = await gateway.get("/v1/admin/audit/export", params={**params, "format": "jsonl"}, headers=operator_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines == await trail(gateway, operator_headers, **params)
    assert any(e["action"] == "account.opened" and e["account_id"] == account["id"] for e in lines)

    r = await gateway.get("/v1/admin/audit/export", params={**params, "format": "csv"}, headers=operator_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["service"], int(row["seq"]), row["hash"]) for row in rows] == [
        (e["service"], e["seq"], e["hash"]) for e in lines
    ]
    assert (await phone.get("/v1/admin/audit/export")).status_code == 403


async def test_a_row_changed_in_the_database_is_named_by_the_check(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], stack: Stack
) -> None:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    r = await gateway.get("/v1/admin/audit/verify", headers=operator_headers)
    assert r.status_code == 200, r.text
    assert r.json()["ok"], r.json()
    checked = {p["service"]: p for p in r.json()["processes"]}
    assert set(checked) == {"gateway", "accounts", "payments", "securities", "insurance"}
    assert checked["accounts"]["rows_checked"] >= 1

    database = sqlite3.connect(stack.data_dir / "accounts.db", timeout=10)
    try:
        seq, actor = database.execute(
            "SELECT seq, actor FROM audit_log WHERE account_id = ? AND action = 'account.opened'", (account["id"],)
        ).fetchone()
        with database:
            database.execute("UPDATE audit_log SET actor = 'operator:nobody' WHERE seq = ?", (seq,))
        try:
            found = (await gateway.get("/v1/admin/audit/verify", headers=operator_headers)).json()
            assert not found["ok"]
            accounts = next(p for p in found["processes"] if p["service"] == "accounts")
            assert accounts["broken"]["seq"] == seq and not accounts["ok"]
            assert all(p["ok"] for p in found["processes"] if p["service"] != "accounts")
        finally:
            with database:
                database.execute("UPDATE audit_log SET actor = ? WHERE seq = ?", (actor, seq))
    finally:
        database.close()
    assert (await gateway.get("/v1/admin/audit/verify", headers=operator_headers)).json()["ok"]


async def test_refused_requests_and_secrets_stay_out_of_the_trail(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    refused = await phone.post(f"/v1/admin/accounts/{account['id']}/freeze", json={"mode": "full", "reason": "x"})
    assert refused.status_code == 403
    invalid = await phone.post("/v1/accounts", json={"kind": "no-such-kind"})
    assert invalid.status_code == 422
    r = await gateway.get("/v1/admin/audit/export", params={"customer_id": phone.customer_id}, headers=operator_headers)
    entries = [json.loads(line) for line in r.text.splitlines()]
    actions = [(e["service"], e["action"]) for e in entries]
    assert ("gateway", "POST /v1/accounts") in actions and ("accounts", "account.opened") in actions
    assert actions.count(("gateway", "POST /v1/accounts")) == 1
    assert not any("freeze" in action for _, action in actions)
    assert phone.password not in r.text and "access_token" not in r.text
