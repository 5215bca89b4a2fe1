"""insurance answers as its OpenAPI document says (tests/conformance.py), to a customer
with a funded account, and to an adjuster on the adjusters' routes."""

from __future__ import annotations

from collections.abc import Mapping

from schemathesis.schemas import APIOperation

from tests.conformance import QUIET, budget, check_app
from tests.integration.insurance.harness import Insurer

pytestmark = QUIET


async def test_insurance_answers_as_its_openapi_document_says(insurer: Insurer) -> None:
    insured = await insurer.customer()
    adjuster = insurer.adjuster()

    async def auth(operation: APIOperation) -> Mapping[str, str]:
        return adjuster if operation.path.startswith("/v1/adjuster/") else insured.headers

    report = await check_app(insurer.http, insurer.app.openapi(), auth, max_examples=budget(20))

    report.assert_as_documented()
