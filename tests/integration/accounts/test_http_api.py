"""The accounts HTTP API: a customer sees only their own accounts; statements page by
cursor; every error is problem+json; the ledger check is for operators."""

from __future__ import annotations

import base64
import uuid

import pytest

from shared.events import accounts as ev
from tests.integration.harness import CASH_IN, Bank

pytestmark = pytest.mark.broker

PROBLEM_JSON = "application/problem+json"


def assert_problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["type"] == f"https://sandbank.dev/problems/{slug}"
    assert body["status"] == status
    assert body["detail"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


async def test_list_shows_only_the_callers_accounts(bank: Bank) -> None:
    alice, bob = await bank.new_customer(), await bank.new_customer()
    mine = {await bank.open_account(alice, "checking"), await bank.open_account(alice, "savings")}
    await bank.open_account(bob)

    r = await bank.http.get("/v1/accounts", headers=alice.headers)

    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {a["id"] for a in items} == mine
    assert {a["customer_id"] for a in items} == {alice.id}
    assert {a["kind"] for a in items} == {"checking", "savings"}


async def test_opened_account_starts_empty_in_cny(bank: Bank) -> None:
    customer = await bank.new_customer()

    r = await bank.http.post("/v1/accounts", json={"kind": "savings", "name": "Rainy day"}, headers=customer.headers)

    assert r.status_code == 201, r.text
    body = r.json()
    assert body["customer_id"] == customer.id
    assert (body["name"], body["currency"], body["balance"], body["available"]) == ("Rainy day", "CNY", "0.00", "0.00")


@pytest.mark.parametrize("path", ["/v1/accounts/{id}", "/v1/accounts/{id}/transactions"])
async def test_another_customers_account_is_not_found(bank: Bank, path: str) -> None:
    _, bobs = await bank.funded_account(10_00)
    alice = await bank.new_customer()

    r = await bank.http.get(path.format(id=bobs), headers=alice.headers)

    body = assert_problem(r, 404, "not-found")
    assert body["instance"] == path.format(id=bobs)


async def test_internal_account_is_not_found_for_a_customer(bank: Bank) -> None:
    alice = await bank.new_customer()
    r = await bank.http.get(f"/v1/accounts/{CASH_IN}", headers=alice.headers)
    assert_problem(r, 404, "not-found")


async def test_own_account_shows_balances(bank: Bank) -> None:
    alice, account = await bank.funded_account(12_34)

    r = await bank.http.get(f"/v1/accounts/{account}", headers=alice.headers)

    assert r.status_code == 200, r.text
    assert (r.json()["balance"], r.json()["balance_minor"]) == ("12.34", 12_34)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"authorization": "Bearer not-a-jwt"}, 401), ({"authorization": "Basic abc"}, 401)],
)
async def test_requests_without_a_valid_token_are_unauthorized(bank: Bank, headers: dict, status: int) -> None:
    r = await bank.http.get("/v1/accounts", headers=headers)
    assert_problem(r, status, "unauthorized")


async def test_statement_pages_newest_first_without_gaps_or_overlap(bank: Bank) -> None:
    customer, account = await bank.funded_account(0)
    amounts = [i * 1_00 for i in range(1, 8)]
    commands = [
        await bank.send(
            ev.CreditAccount(
                account_id=account, credit_id=f"cr-{uuid.uuid4()}", source_account_id=CASH_IN, amount_minor=a
            )
        )
        for a in amounts
    ]
    for command in commands:
        assert (await bank.reply_to(command)).type == ev.AccountCredited.TYPE

    pages, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await bank.http.get(f"/v1/accounts/{account}/transactions", params=params, headers=customer.headers)
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break

    assert [len(p) for p in pages] == [3, 3, 1]
    lines = [line for page in pages for line in page]
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids) == 7
    assert [line["amount_minor"] for line in lines] == amounts[::-1]  # applied in order, shown newest first
    assert [line["balance_after_minor"] for line in lines] == [sum(amounts[: i + 1]) for i in range(7)][::-1]
    assert {line["direction"] for line in lines} == {"credit"}


async def test_statement_with_exactly_one_page_has_no_next_cursor(bank: Bank) -> None:
    customer, account = await bank.funded_account(5_00)
    r = await bank.http.get(f"/v1/accounts/{account}/transactions", params={"limit": 1}, headers=customer.headers)
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1
    assert r.json()["next_cursor"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        pytest.param({"cursor": "!!!!"}, 400, "invalid-cursor", id="not base64"),
        pytest.param({"cursor": "abc"}, 400, "invalid-cursor", id="base64 of bytes that are not text"),
        pytest.param({"cursor": _b64("ten")}, 400, "invalid-cursor", id="base64 of a word"),
        pytest.param({"cursor": _b64("1e5")}, 400, "invalid-cursor", id="base64 of a float"),
        pytest.param({"cursor": _b64(str(10**20))}, 400, "invalid-cursor", id="base64 of a huge number"),
        pytest.param({"cursor": "x" * 201}, 422, "validation-error", id="too long"),
        pytest.param({"limit": 0}, 422, "validation-error", id="limit zero"),
        pytest.param({"limit": 201}, 422, "validation-error", id="limit over 200"),
        pytest.param({"limit": "many"}, 422, "validation-error", id="limit not a number"),
    ],
)
async def test_bad_statement_queries_are_refused(bank: Bank, params: dict, status: int, slug: str) -> None:
    customer, account = await bank.funded_account(1_00)
    r = await bank.http.get(f"/v1/accounts/{account}/transactions", params=params, headers=customer.headers)
    assert_problem(r, status, slug)


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        pytest.param(b'{"kind": "checking"', 400, "malformed-json", id="truncated JSON"),
        pytest.param(b"kind=checking", 400, "malformed-json", id="not JSON"),
        pytest.param(b'{"kind": "crypto"}', 422, "validation-error", id="unknown kind"),
        pytest.param(b'{"kind": "internal"}', 422, "validation-error", id="internal kind"),
        pytest.param(b"{}", 422, "validation-error", id="kind missing"),
        pytest.param(b'{"kind": "checking", "currency": "USD"}', 422, "validation-error", id="other currency"),
        pytest.param(b'{"kind": "checking", "name": ""}', 422, "validation-error", id="empty name"),
        pytest.param(b'{"kind": "checking", "balance_minor": 100}', 422, "validation-error", id="extra field"),
        pytest.param(b'["checking"]', 422, "validation-error", id="array"),
    ],
)
async def test_bad_account_opening_bodies_are_refused(bank: Bank, body: bytes, status: int, slug: str) -> None:
    customer = await bank.new_customer()

    r = await bank.http.post(
        "/v1/accounts", content=body, headers={**customer.headers, "content-type": "application/json"}
    )

    problem = assert_problem(r, status, slug)
    if status == 422:
        assert problem["errors"]
    listed = await bank.http.get("/v1/accounts", headers=customer.headers)
    assert listed.json()["items"] == []


async def test_opening_an_account_needs_a_customer_profile(bank: Bank) -> None:
    stranger = bank.customer_headers(str(uuid.uuid4()))
    r = await bank.http.post("/v1/accounts", json={"kind": "checking"}, headers=stranger)
    assert_problem(r, 404, "not-found")


async def test_registering_a_customer_needs_a_service_token(bank: Bank) -> None:
    alice = await bank.new_customer()
    body = {"customer_id": str(uuid.uuid4()), "phone": "+8613912345678", "name": "Eve"}
    r = await bank.http.post("/internal/customers", json=body, headers=alice.headers)
    assert_problem(r, 403, "forbidden")


async def test_registering_a_taken_phone_conflicts(bank: Bank) -> None:
    alice = await bank.new_customer()
    body = {"customer_id": str(uuid.uuid4()), "phone": alice.phone, "name": "Eve"}
    r = await bank.http.post("/internal/customers", json=body, headers=bank.service_headers)
    assert_problem(r, 409, "phone-taken")


async def test_ledger_check_is_ok_for_an_operator(bank: Bank) -> None:
    check = await bank.ledger_check()

    assert check["ok"], check["violations"]
    assert check["totals_minor"] == {"CNY": 0}
    assert check["accounts_checked"] > 0 and check["entries_checked"] > 0


@pytest.mark.parametrize("roles", [["customer"], ["service"], []])
async def test_ledger_check_is_forbidden_to_everyone_else(bank: Bank, roles: list[str]) -> None:
    token = bank.tokens.service_token() if roles == ["service"] else bank.tokens.issue(str(uuid.uuid4()), roles)
    r = await bank.http.get("/v1/admin/ledger/check", headers={"authorization": f"Bearer {token}"})
    assert_problem(r, 403, "forbidden")


async def test_opening_an_account_publishes_account_opened(bank: Bank) -> None:
    customer = await bank.new_customer()
    account = await bank.open_account(customer, "securities_cash")

    seen = await bank.tap.wait_for(
        lambda s: (
            s.envelope is not None
            and s.envelope.type == ev.AccountOpened.TYPE
            and s.envelope.data["account_id"] == account
        ),
        what="AccountOpened",
    )

    assert seen.envelope is not None
    assert seen.envelope.data == {
        "account_id": account,
        "customer_id": customer.id,
        "kind": "securities_cash",
        "currency": "CNY",
    }
    assert seen.record.key == account.encode()


async def test_a_customer_may_hold_at_most_twenty_accounts(bank: Bank) -> None:
    customer = await bank.new_customer()
    for _ in range(20):
        await bank.open_account(customer)

    r = await bank.http.post("/v1/accounts", json={"kind": "savings"}, headers=customer.headers)

    assert_problem(r, 409, "too-many-accounts")


async def test_a_customer_trades_from_one_securities_cash_account(bank: Bank) -> None:
    """The brokerage knows one: money in a second could be neither traded nor moved back."""
    customer = await bank.new_customer()
    first = await bank.http.post("/v1/accounts", json={"kind": "securities_cash"}, headers=customer.headers)
    assert first.status_code == 201, first.text

    r = await bank.http.post("/v1/accounts", json={"kind": "securities_cash"}, headers=customer.headers)

    assert_problem(r, 409, "securities-account-exists")
    mine = (await bank.http.get("/v1/accounts", headers=customer.headers)).json()["items"]
    assert [a["kind"] for a in mine].count("securities_cash") == 1


async def test_customer_profile_is_the_callers(bank: Bank) -> None:
    customer = await bank.new_customer(kyc_class="III")

    r = await bank.http.get("/v1/customers/me", headers=customer.headers)

    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["phone"], r.json()["kyc_class"]) == (customer.id, customer.phone, "III")


async def test_registering_the_same_customer_again_returns_it_unchanged(bank: Bank) -> None:
    customer = await bank.new_customer()
    body = {"customer_id": customer.id, "phone": customer.phone, "name": "Test Customer", "kyc_class": "I"}

    again = await bank.http.post("/internal/customers", json=body, headers=bank.service_headers)
    other_phone = await bank.http.post(
        "/internal/customers", json={**body, "phone": "+8610000000000"}, headers=bank.service_headers
    )

    assert again.status_code == 201 and again.json()["id"] == customer.id
    assert_problem(other_phone, 409, "customer-conflict")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"phone": "+8613900000000", "name": "x"}, id="no customer id"),
        pytest.param({"customer_id": "c", "phone": "123", "name": "x"}, id="phone too short"),
        pytest.param({"customer_id": "c", "phone": "+8613900000000", "name": ""}, id="empty name"),
        pytest.param({"customer_id": "c", "phone": "+8613900000000", "name": "x", "kyc_class": "IV"}, id="class IV"),
        pytest.param({"customer_id": "c" * 37, "phone": "+8613900000000", "name": "x"}, id="id too long"),
    ],
)
async def test_bad_customer_registrations_are_refused(bank: Bank, body: dict) -> None:
    r = await bank.http.post("/internal/customers", json=body, headers=bank.service_headers)
    assert_problem(r, 422, "validation-error")


async def test_oversized_body_is_refused_before_the_route(bank: Bank) -> None:
    customer = await bank.new_customer()
    r = await bank.http.post("/v1/accounts", json={"kind": "checking", "name": "x" * 70_000}, headers=customer.headers)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith(PROBLEM_JSON)


async def test_metrics_are_read_with_a_service_or_operator_token_only(bank: Bank) -> None:
    assert_problem(await bank.http.get("/metrics"), 401, "unauthorized")
    customer = await bank.new_customer()
    assert_problem(await bank.http.get("/metrics", headers=customer.headers), 403, "forbidden")

    for headers in (bank.service_headers, bank.operator_headers):
        r = await bank.http.get("/metrics", headers=headers)
        assert r.status_code == 200, r.text
        assert 'sandbank_outbox_backlog{service="accounts"}' in r.text


async def test_an_answer_with_a_customers_data_is_not_to_be_stored(bank: Bank) -> None:
    customer = await bank.new_customer()

    r = await bank.http.get("/v1/accounts", headers=customer.headers)

    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
