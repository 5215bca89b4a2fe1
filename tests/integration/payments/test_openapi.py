"""payments answers as its OpenAPI document says (tests/conformance.py), to a customer
with a funded checking account, and to an operator on the operator's routes."""

from __future__ import annotations

from collections.abc import Mapping

from schemathesis.schemas import APIOperation

from tests.conformance import QUIET, budget, check_app
from tests.integration.payments.harness import Payments

pytestmark = QUIET


async def test_payments_answers_as_its_openapi_document_says(payments: Payments) -> None:
    payer = await payments.customer(1_000_00)

    async def auth(operation: APIOperation) -> Mapping[str, str]:
        return payments.bank.operator_headers if operation.path.startswith("/v1/admin/") else payer.headers

    report = await check_app(payments.http, payments.app.openapi(), auth, max_examples=budget(20))

    report.assert_as_documented()
