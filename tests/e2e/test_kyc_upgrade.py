"""KYC upgrade from the phone: class II to class I by the sandbox rule or a compliance
officer, the limits changing for the very next payment, the magic refusal, bad ID numbers,
one ID number for one customer, a legal name other than the registered one referred."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.accounts.kyc_rules import check_character
from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

MAGIC_REFUSED_ID = "110101199003079999"
REGISTERED_NAME = "Test Customer"  # register_and_login's


async def funded(client: httpx.AsyncClient, amount: str) -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(client)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(phone: Phone, payer: str, payee: str, amount: str) -> httpx.Response:
    body = {"payer_account_id": payer, "payee_account_id": payee, "amount": amount}
    return await phone.post("/v1/payments/transfers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


async def terminal(phone: Phone, payment_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = (await phone.get(f"/v1/payments/{payment_id}")).json()
        return body if body["status"] != "pending" else None

    return await eventually(done)


async def notified(phone: Phone, kind: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        items = (await phone.get("/v1/notifications")).json()["items"]
        return next((n for n in items if n["kind"] == kind), None)

    return await eventually(found)


def new_id_number() -> str:
    """A valid GB 11643 number no other test uses: one number vouches for one customer."""
    entropy = uuid.uuid4().int
    born = date(1950, 1, 1) + timedelta(days=entropy % 18_000)
    first17 = f"110105{born:%Y%m%d}{entropy // 18_000 % 1000:03d}"
    return first17 + check_character(first17)


def application(id_number: str, score: float = 0.95, legal_name: str = REGISTERED_NAME) -> dict[str, Any]:
    return {"legal_name": legal_name, "id_number": id_number, "face_match_score": score}


async def test_an_approved_upgrade_lets_the_next_payment_through(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway, "20000.00")
    other = await payer.open_account("savings")  # the payer's own: no new-payee risk rule
    refused = await transfer(payer, account["id"], other["id"], "15000.00")
    assert refused.status_code == 422 and refused.json()["type"].endswith("limit-exceeded"), refused.text
    before = (await payer.get("/v1/me/kyc")).json()
    assert before["kyc_class"] == "II" and before["limits"]["per_payment_minor"] == 10_000_00

    number = new_id_number()
    r = await payer.post("/v1/me/kyc/upgrade", json=application(number))
    assert r.status_code == 201, r.text
    masked = f"{number[:6]}********{number[-4:]}"
    assert (r.json()["status"], r.json()["to_class"], r.json()["id_number"]) == ("approved", "I", masked)

    # payments learns the class from accounts.KycApplicationDecided: once /v1/me/kyc shows
    # the class I per-payment limit, payments checks payments against it.
    async def class_i_limit() -> dict[str, Any] | None:
        shown = (await payer.get("/v1/me/kyc")).json()
        return shown if shown["limits"]["per_payment_minor"] == 50_000_00 else None

    await eventually(class_i_limit)
    after = await transfer(payer, account["id"], other["id"], "15000.00")
    assert after.status_code == 202, after.text
    assert (await terminal(payer, after.json()["id"]))["status"] == "completed"
    assert await payer.balance(other["id"]) == 15_000_00
    shown = (await payer.get("/v1/me/kyc")).json()
    assert shown["kyc_class"] == "I" and shown["limits"]["per_payment_minor"] == 50_000_00
    assert shown["application"]["status"] == "approved"
    note = await notified(payer, "kyc_decided")
    assert note["data"]["status"] == "approved"
    again = await payer.post("/v1/me/kyc/upgrade", json=application(number))
    assert again.status_code == 409, again.text


async def test_the_magic_id_number_is_refused(gateway: httpx.AsyncClient) -> None:
    phone = await register_and_login(gateway)
    r = await phone.post("/v1/me/kyc/upgrade", json=application(MAGIC_REFUSED_ID, 0.99))
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("refused", "sandbox_magic_id")
    assert (await phone.get("/v1/me/kyc")).json()["kyc_class"] == "II"
    assert (await notified(phone, "kyc_decided"))["data"]["status"] == "refused"


async def test_a_low_face_match_waits_for_a_compliance_officer(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone = await register_and_login(gateway)
    number = new_id_number()
    r = await phone.post("/v1/me/kyc/upgrade", json=application(number, score=0.5))
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    app_id = r.json()["id"]
    assert (await phone.post("/v1/me/kyc/upgrade", json=application(number))).status_code == 409
    assert (await phone.get("/v1/admin/kyc/applications")).status_code == 403

    queue = await gateway.get("/v1/admin/kyc/applications", params={"status": "pending"}, headers=operator_headers)
    assert queue.status_code == 200, queue.text
    assert app_id in [a["id"] for a in queue.json()["items"]]
    decision = {"decision": "approve", "reason": "documents checked in branch"}
    path = f"/v1/admin/kyc/applications/{app_id}/decision"
    r = await gateway.post(path, json=decision, headers=operator_headers)
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert (await gateway.post(path, json=decision, headers=operator_headers)).status_code == 409
    assert (await phone.get("/v1/me/kyc")).json()["kyc_class"] == "I"
    r = await gateway.get(
        "/v1/admin/audit", params={"customer_id": phone.customer_id, "action": "kyc.approved"}, headers=operator_headers
    )
    assert r.status_code == 200, r.text
    [entry] = r.json()["items"]
    assert (entry["service"], entry["subject_id"]) == ("accounts", app_id)
    assert entry["actor"].startswith("operator:")
    assert (entry["before"], entry["after"]["kyc_class"]) == ({"kyc_class": "II"}, "I")


async def test_an_id_number_lifts_one_customer_only(gateway: httpx.AsyncClient) -> None:
    number = new_id_number()
    first = await register_and_login(gateway, name="Wang Fang")
    r = await first.post("/v1/me/kyc/upgrade", json=application(number, 0.97, "Wang Fang"))
    assert (r.status_code, r.json()["status"]) == (201, "approved"), r.text

    second = await register_and_login(gateway, name="Qian Victim")
    r = await second.post("/v1/me/kyc/upgrade", json=application(number, 0.97, "Qian Victim"))

    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/id-number-in-use"), r.text
    shown = (await second.get("/v1/me/kyc")).json()
    assert (shown["kyc_class"], shown["application"]) == ("II", None)


async def test_a_legal_name_other_than_the_registered_one_waits_for_an_officer(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone = await register_and_login(gateway, name="Zhao Attacker")

    r = await phone.post("/v1/me/kyc/upgrade", json=application(new_id_number(), 0.97, "Wang Fang"))

    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("pending", "legal_name_mismatch")
    assert (await phone.get("/v1/me/kyc")).json()["kyc_class"] == "II"
    queue = await gateway.get("/v1/admin/kyc/applications", params={"status": "pending"}, headers=operator_headers)
    assert r.json()["id"] in [a["id"] for a in queue.json()["items"]]


@pytest.mark.parametrize(
    "id_number",
    [
        "11010519491231002",  # 17 characters
        "110105194912310021",  # wrong check character
        "11010519491331002X",  # month 13
        "110105290012310027",  # born in the future
        "11010518001231002X",  # too old to be alive
        "01010519491231002X",  # no region starts with 0
        "1101051949123100\uff12X",  # a full-width digit
    ],
)
async def test_a_bad_id_number_is_invalid_id_number(
    gateway: httpx.AsyncClient, customer: Phone, id_number: str
) -> None:
    r = await customer.post("/v1/me/kyc/upgrade", json=application(id_number))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("invalid-id-number"), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
