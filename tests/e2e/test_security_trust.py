"""Trust between processes, tried as an attacker would against a started stack: the
phone's token straight at a service, tokens signed with the secret that once shipped
with the code or with a key the stack did not make, a token whose session is another
customer's. Each is refused, and no money moves."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.phone import Phone, register_and_login
from tests.tokens import issuer
from tools.stack import Stack

pytestmark = pytest.mark.e2e

PUBLISHED_SECRET = "sandbank-development-secret-change-me-0123456789"
SERVICES = ("accounts", "payments", "securities", "insurance")
# A customer-facing read on each service.
READS = {
    "accounts": "/v1/accounts",
    "payments": "/v1/payments",
    "securities": "/v1/securities/positions",
    "insurance": "/v1/insurance/policies",
}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def funded(customer: Phone, amount: str = "10000.00") -> str:
    account = await customer.open_account()
    await customer.settled((await customer.deposit(account["id"], amount))["id"])
    return str(account["id"])


@pytest.mark.parametrize("service", SERVICES)
async def test_the_phones_token_straight_at_a_service_is_refused(stack: Stack, customer: Phone, service: str) -> None:
    async with httpx.AsyncClient(base_url=stack.url(service), timeout=10) as direct:
        r = await direct.get(READS[service], headers=customer.auth)

    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_large_transfer_posted_straight_to_payments_moves_nothing(
    stack: Stack, gateway: httpx.AsyncClient, customer: Phone
) -> None:
    payer = await funded(customer)
    payee = await register_and_login(gateway)
    payee_account = (await payee.open_account())["id"]
    body = {"payer_account_id": payer, "payee_account_id": payee_account, "amount": "6000.00", "currency": "CNY"}

    async with httpx.AsyncClient(base_url=stack.url("payments"), timeout=10) as direct:
        r = await direct.post(
            "/v1/payments/transfers", json=body, headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())}
        )

    assert r.status_code == 401, r.text
    assert await customer.balance(payer) == 10_000_00
    assert (await customer.get("/v1/payments")).json()["items"] == []


async def test_after_logout_the_token_works_nowhere(stack: Stack, customer: Phone) -> None:
    assert (await customer.post("/v1/auth/logout")).status_code == 204

    assert (await customer.get("/v1/accounts")).status_code == 401
    for service in SERVICES:
        async with httpx.AsyncClient(base_url=stack.url(service), timeout=10) as direct:
            assert (await direct.get(READS[service], headers=customer.auth)).status_code == 401


def forged_operator(key: object, algorithm: str, audience: str) -> str:
    claims = {
        "iss": "gateway",
        "aud": audience,
        "sub": "operator-forged",
        "roles": ["operator", "service"],
        "sid": "forged",
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "gateway"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [(PUBLISHED_SECRET, "HS256"), (Ed25519PrivateKey.generate(), "EdDSA")],
    ids=["the-published-secret", "a-key-the-stack-did-not-make"],
)
async def test_forged_operator_tokens_are_refused_everywhere(
    stack: Stack, gateway: httpx.AsyncClient, customer: Phone, key: object, algorithm: str
) -> None:
    account = (await customer.open_account())["id"]

    at_gateway = await gateway.get("/v1/admin/ledger/check", headers=bearer(forged_operator(key, algorithm, "gateway")))
    async with httpx.AsyncClient(base_url=stack.url("accounts"), timeout=10) as direct:
        at_accounts = await direct.get(
            f"/internal/accounts/{account}", headers=bearer(forged_operator(key, algorithm, "accounts"))
        )
        ledger = await direct.get("/v1/admin/ledger/check", headers=bearer(forged_operator(key, algorithm, "accounts")))

    assert (at_gateway.status_code, at_accounts.status_code, ledger.status_code) == (401, 401, 401)


async def test_a_session_vouches_only_for_its_own_customer(gateway: httpx.AsyncClient, customer: Phone) -> None:
    victim = await register_and_login(gateway)
    # Signed with the stack's own gateway key (the tests share it): even a valid signature
    # does not make one customer's session speak for another.
    token = issuer("gateway").issue(
        victim.customer_id, ["customer"], audience="gateway", session_id=customer.tokens["session_id"]
    )

    r = await gateway.get("/v1/accounts", headers=bearer(token))

    assert r.status_code == 401, r.text
