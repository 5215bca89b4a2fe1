"""The typed Python client, generated from the live gateway's OpenAPI, moves money: a
suite writes `create_transfer.asyncio_detailed(client=..., body=TransferCreate(...))`
rather than raw HTTP."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.phone import Phone, eventually
from tools.client import PACKAGE, fetch_spec, generate
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def generated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("client")
    package = generate(fetch_spec(stack.gateway_url), out)
    assert (package / "api" / "payments" / "create_transfer.py").is_file()
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


async def test_a_generated_client_opens_an_account_and_pays(
    generated: ModuleType, stack: Stack, customer: Phone, tmp_path: Path
) -> None:
    api = importlib.import_module(f"{PACKAGE}.api.payments.create_transfer")
    get_payment = importlib.import_module(f"{PACKAGE}.api.payments.get_payment")
    get_account = importlib.import_module(f"{PACKAGE}.api.accounts.get_account")
    models = importlib.import_module(f"{PACKAGE}.models")
    source, target = await customer.open_account(), await customer.open_account("savings")
    await customer.settled((await customer.deposit(source["id"], "50.00"))["id"])

    async with generated.AuthenticatedClient(
        base_url=stack.gateway_url, token=customer.tokens["access_token"]
    ) as client:
        body = models.TransferCreate(payer_account_id=source["id"], payee_account_id=target["id"], amount="12.34")
        accepted = await api.asyncio_detailed(client=client, body=body, idempotency_key=str(uuid.uuid4()))
        assert accepted.status_code == 202, accepted.content
        payment = accepted.parsed
        assert isinstance(payment, models.PaymentPublic), payment

        async def completed() -> object | None:
            now = await get_payment.asyncio(client=client, payment_id=payment.id)
            return now if getattr(now, "status", None) == "completed" else None

        await eventually(completed, timeout_s=30, every_s=0.2)
        account = await get_account.asyncio(client=client, account_id=target["id"])
        assert isinstance(account, models.AccountPublic) and account.balance == "12.34"
        # The document's problems parse too: a refused transfer is a typed answer, not a crash.
        refused = await api.asyncio_detailed(
            client=client,
            body=models.TransferCreate(payer_account_id=source["id"], payee_account_id=target["id"], amount="0"),
            idempotency_key=str(uuid.uuid4()),
        )
        assert refused.status_code == 422
