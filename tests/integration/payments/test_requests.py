"""What payments decides at request time: the Idempotency-Key, bad input refused as
problem+json before anything is written, and reading one's own payments."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.events import accounts as acc
from tests.integration.payments.harness import Payer, Payments

pytestmark = pytest.mark.broker

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://sandbank.dev/problems/{slug}", body
    assert body["detail"]
    return body


# --- the Idempotency-Key ----------------------------------------------------------------------


async def test_a_repeated_key_returns_the_same_payment_and_moves_money_once(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    body = {"payee_account_id": payee.account_id, "amount": "10.00"}
    key = str(uuid.uuid4())

    first = await payments.start("transfers", payer, body, key=key)
    done = await payments.settled(payer, first["id"])
    again = await payments.post("transfers", payer, {"payer_account_id": payer.account_id, **body}, key=key)

    assert again.status_code == 202, again.text
    assert (again.json()["id"], again.json()["status"]) == (first["id"], "completed")
    assert done["status"] == "completed"
    assert [p["id"] for p in await payments.listed(payer)] == [first["id"]]
    await payments.hold_facts(first["id"], acc.HoldCaptured.TYPE)
    captures = payments.bank.tap.matching(
        lambda s: (
            s.envelope is not None
            and s.envelope.type == acc.HoldCaptured.TYPE
            and s.envelope.data["hold_id"] == first["id"]
        )
    )
    assert len(captures) == 1
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(90_00, 0), (10_00, 0)]


async def test_a_key_reused_with_another_body_still_answers_the_first_payment(payments: Payments) -> None:
    """The gateway answers 422 to this; behind it, the service never starts a second payment."""
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    key = str(uuid.uuid4())
    first = await payments.start("transfers", payer, {"payee_account_id": payee.account_id, "amount": "1.00"}, key=key)

    other = await payments.post(
        "topups", payer, {"payer_account_id": payer.account_id, "phone": "13912345678", "amount": "9.00"}, key=key
    )

    assert other.status_code == 202, other.text
    assert (other.json()["id"], other.json()["kind"], other.json()["amount_minor"]) == (first["id"], "transfer", 1_00)
    await payments.settled(payer, first["id"])
    assert len(await payments.listed(payer)) == 1


async def test_concurrent_requests_with_one_key_start_one_payment(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    body = {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": "3.00"}
    key = str(uuid.uuid4())

    answers = await asyncio.gather(*[payments.post("transfers", payer, body, key=key) for _ in range(5)])

    assert {r.status_code for r in answers} == {202}, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    done = await payments.settled(payer, answers[0].json()["id"])
    assert done["status"] == "completed"
    assert await payments.bank.balances(payer.account_id) == [(97_00, 0)]


async def test_keys_belong_to_their_customer(payments: Payments) -> None:
    alice, bob = await payments.customer(10_00), await payments.customer(10_00)
    key = str(uuid.uuid4())

    paid = [
        await payments.start("topups", p, {"phone": "13912345678", "amount": "1.00"}, key=key) for p in (alice, bob)
    ]

    assert paid[0]["id"] != paid[1]["id"]
    for payer, payment in zip((alice, bob), paid, strict=True):
        assert (await payments.settled(payer, payment["id"]))["status"] == "completed"


async def test_a_payment_without_an_idempotency_key_is_refused(payments: Payments) -> None:
    payer = await payments.customer()
    r = await payments.post(
        "topups",
        payer,
        {"payer_account_id": payer.account_id, "phone": "13912345678", "amount": "1.00"},
        with_key=False,
    )
    assert_problem(r, 400, "idempotency-key-missing")
    assert await payments.listed(payer) == []


# --- bad input: a clear problem, and nothing written -----------------------------------------------


@dataclass(frozen=True)
class Cast:
    payer: Payer
    payee: Payer
    stranger: Payer  # another customer, whose account the payer may not pay from
    securities_account: str  # the payer's, which cannot pay
    stranger_securities: str  # another customer's securities cash, which transfers cannot fill


@pytest.fixture(scope="module")
async def cast(payments: Payments) -> AsyncIterator[Cast]:
    payer = await payments.customer(50_00)
    securities = await payments.open_account(payer, "securities_cash")
    stranger = await payments.customer()
    theirs = await payments.open_account(stranger, "securities_cash")
    yield Cast(payer, await payments.customer(), stranger, securities, theirs)


# Stand-ins in the table below for the ids of the cast's accounts and phones.
PAYEE, PAYEE_PHONE, STRANGER = "<payee account>", "<payee phone>", "<stranger's account>"
OWN, OWN_PHONE, SECURITIES = "<payer's account>", "<payer's phone>", "<payer's securities cash>"
THEIR_SECURITIES = "<stranger's securities cash>"


def resolve(body: dict[str, Any], cast: Cast) -> dict[str, Any]:
    ids = {
        PAYEE: cast.payee.account_id,
        PAYEE_PHONE: cast.payee.customer.phone,
        STRANGER: cast.stranger.account_id,
        OWN: cast.payer.account_id,
        OWN_PHONE: cast.payer.customer.phone,
        SECURITIES: cast.securities_account,
        THEIR_SECURITIES: cast.stranger_securities,
    }
    return {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}


BAD: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("zero amount", "transfers", {"payee_account_id": PAYEE, "amount": "0"}, 422, "invalid-amount"),
    ("negative amount", "transfers", {"payee_account_id": PAYEE, "amount": "-5.00"}, 422, "invalid-amount"),
    ("over-precise amount", "transfers", {"payee_account_id": PAYEE, "amount": "1.005"}, 422, "invalid-amount"),
    (
        "other currency",
        "transfers",
        {"payee_account_id": PAYEE, "amount": "1.00", "currency": "USD"},
        422,
        "unsupported-currency",
    ),
    (
        "another customer's payer account",
        "transfers",
        {"payer_account_id": STRANGER, "payee_account_id": PAYEE, "amount": "1.00"},
        404,
        "not-found",
    ),
    (
        "unknown payer account",
        "transfers",
        {"payer_account_id": "no-such-account", "payee_account_id": PAYEE, "amount": "1.00"},
        404,
        "not-found",
    ),
    (
        "securities cash pays",
        "transfers",
        {"payer_account_id": SECURITIES, "payee_account_id": PAYEE, "amount": "1.00"},
        422,
        "account-cannot-pay",
    ),
    ("no payee", "transfers", {"amount": "1.00"}, 422, "invalid-payee"),
    (
        "two payees",
        "transfers",
        {"payee_account_id": PAYEE, "payee_phone": PAYEE_PHONE, "amount": "1.00"},
        422,
        "invalid-payee",
    ),
    ("malformed payee phone", "transfers", {"payee_phone": "12345", "amount": "1.00"}, 422, "invalid-payee"),
    (
        "unregistered payee phone",
        "transfers",
        {"payee_phone": "+8613000000000", "amount": "1.00"},
        422,
        "unknown-payee",
    ),
    ("unknown payee account", "transfers", {"payee_account_id": "nope", "amount": "1.00"}, 422, "unknown-payee"),
    ("internal payee", "transfers", {"payee_account_id": "internal:cash-in", "amount": "1.00"}, 422, "unknown-payee"),
    (
        "another customer's securities cash",
        "transfers",
        {"payee_account_id": THEIR_SECURITIES, "amount": "1.00"},
        422,
        "account-cannot-be-paid",
    ),
    (
        "one's own securities cash",
        "transfers",
        {"payee_account_id": SECURITIES, "amount": "1.00"},
        422,
        "account-cannot-be-paid",
    ),
    ("paying into the same account", "transfers", {"payee_account_id": OWN, "amount": "1.00"}, 422, "same-account"),
    ("paying one's own phone from it", "transfers", {"payee_phone": OWN_PHONE, "amount": "1.00"}, 422, "same-account"),
    (
        "unknown biller",
        "bills",
        {"biller_code": "NOPE", "bill_reference": "1", "amount": "1.00"},
        422,
        "unknown-biller",
    ),
    (
        "malformed bill reference",
        "bills",
        {"biller_code": "SH-WATER", "bill_reference": "12ab", "amount": "1.00"},
        422,
        "invalid-bill-reference",
    ),
    ("malformed qr", "qr", {"qr_payload": "https://example.com/?m=M100001", "amount": "1.00"}, 422, "malformed-qr"),
    ("unknown merchant", "qr", {"qr_payload": "sandbank://qr/v1?m=M999999&a=1.00"}, 422, "unknown-merchant"),
    (
        "amount differs from the qr",
        "qr",
        {"qr_payload": "sandbank://qr/v1?m=M100001&a=1.00", "amount": "2.00"},
        422,
        "amount-mismatch",
    ),
    ("no amount anywhere", "qr", {"qr_payload": "sandbank://qr/v1?m=M100001"}, 422, "invalid-amount"),
    ("malformed top-up phone", "topups", {"phone": "555-0100", "amount": "1.00"}, 422, "invalid-phone"),
    ("top-up over 500", "topups", {"phone": "13912345678", "amount": "500.01"}, 422, "limit-exceeded"),
]


@pytest.mark.parametrize(("path", "body", "status", "slug"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
async def test_bad_input_is_refused_before_anything_is_written(
    payments: Payments, cast: Cast, path: str, body: dict[str, Any], status: int, slug: str
) -> None:
    r = await payments.post(path, cast.payer, resolve({"payer_account_id": OWN, **body}, cast))

    assert_problem(r, status, slug)
    assert "Traceback" not in r.text
    assert await payments.listed(cast.payer) == []
    assert await payments.bank.balances(cast.payer.account_id) == [(50_00, 0)]


@pytest.mark.parametrize(
    "body",
    [
        {"payee_account_id": "x", "amount": "1.00", "surprise": True},
        {"payee_account_id": "x"},
        {"payee_account_id": "x", "amount": "lots"},
        {"payee_account_id": "x", "amount": 1.005},
    ],
    ids=["unknown field", "no amount", "amount not a number", "json number over-precise"],
)
async def test_malformed_bodies_are_refused(payments: Payments, cast: Cast, body: dict[str, Any]) -> None:
    r = await payments.post("transfers", cast.payer, {"payer_account_id": cast.payer.account_id, **body})
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert await payments.listed(cast.payer) == []


@pytest.mark.parametrize(
    "note",
    ["rent\nAmount     9999.00 CNY\nStatus     completed", "\u202erent", "rent\x00"],
    ids=["forged receipt lines", "turned around", "a NUL"],
)
async def test_a_note_that_is_not_plain_text_is_refused(payments: Payments, cast: Cast, note: str) -> None:
    """The payee reads the note on the receipt and the statement: a line break would forge
    lines there (an amount, a status), a right-to-left override would turn it around."""
    body = {"payer_account_id": cast.payer.account_id, "payee_account_id": cast.payee.account_id}
    r = await payments.post("transfers", cast.payer, {**body, "amount": "0.02", "note": note})

    assert_problem(r, 422, "validation-error")
    assert "control or format character" in r.text
    assert await payments.listed(cast.payer) == []


# --- reading payments --------------------------------------------------------------------------


async def test_payments_list_newest_first_by_cursor(payments: Payments) -> None:
    payer = await payments.customer()  # no money: each fails at the reservation
    started = [
        await payments.start("topups", payer, {"phone": "13912345678", "amount": f"{n}.00"}) for n in range(1, 6)
    ]
    for payment in started:
        assert (await payments.settled(payer, payment["id"]))["reason"] == "insufficient_funds"

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await payments.http.get("/v1/payments", params=params, headers=payer.headers)
        assert r.status_code == 200, r.text
        seen += [p["id"] for p in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == [p["id"] for p in reversed(started)]


async def test_another_customers_payment_is_not_found(payments: Payments) -> None:
    payer, stranger = await payments.customer(), await payments.customer()
    payment = await payments.start("topups", payer, {"phone": "13912345678", "amount": "1.00"})
    await payments.settled(payer, payment["id"])

    for payment_id in (payment["id"], str(uuid.uuid4())):
        r = await payments.http.get(f"/v1/payments/{payment_id}", headers=stranger.headers)
        assert_problem(r, 404, "not-found")
    assert await payments.listed(stranger) == []


async def test_billers_and_merchants_are_listed(payments: Payments) -> None:
    billers = (await payments.http.get("/v1/billers")).json()["items"]
    merchants = (await payments.http.get("/v1/merchants")).json()["items"]

    assert {"SH-WATER", "SG-ELEC", "TG-GAS", "CM-PHONE", "SANDBOX-FAIL"} <= {b["code"] for b in billers}
    assert all(m["qr_example"].startswith(f"sandbank://qr/v1?m={m['id']}") for m in merchants)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["!!!", _b64(b"garbage"), _b64(b"\xff\xfe|x"), _b64(b"2026-01-01T00:00:00|x"), _b64(b"|")],
    ids=["not base64", "no timestamp", "not utf-8", "timestamp without a zone", "empty parts"],
)
async def test_a_cursor_this_api_did_not_issue_is_refused(payments: Payments, cast: Cast, cursor: str) -> None:
    r = await payments.http.get("/v1/payments", params={"cursor": cursor}, headers=cast.payer.headers)
    assert_problem(r, 400, "invalid-cursor")
