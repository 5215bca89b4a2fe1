"""accounts answers as its OpenAPI document says (tests/conformance.py), to a customer
with an account, and to an operator on the operator's routes."""

from __future__ import annotations

from collections.abc import Mapping

from schemathesis.schemas import APIOperation

from tests.conformance import QUIET, budget, check_app
from tests.integration.harness import Bank

pytestmark = QUIET


async def test_accounts_answers_as_its_openapi_document_says(bank: Bank) -> None:
    customer = await bank.new_customer()
    await bank.open_account(customer)

    async def auth(operation: APIOperation) -> Mapping[str, str]:
        return bank.operator_headers if operation.path.startswith("/v1/admin/") else customer.headers

    report = await check_app(bank.http, bank.app.openapi(), auth, max_examples=budget(20))

    report.assert_as_documented()
