"""securities answers as its OpenAPI document says (tests/conformance.py), to an investor
with a checking and a securities cash account."""

from __future__ import annotations

from collections.abc import Mapping

from schemathesis.schemas import APIOperation

from tests.conformance import QUIET, STREAM, budget, check_app
from tests.integration.securities.harness import Brokerage

pytestmark = QUIET


async def test_securities_answers_as_its_openapi_document_says(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(10_000_00, checking_minor=10_000_00)

    async def auth(operation: APIOperation) -> Mapping[str, str]:
        return investor.headers

    report = await check_app(
        brokerage.http, brokerage.app.openapi(), auth, max_examples=budget(20), skip={"GET /v1/market/stream": STREAM}
    )

    report.assert_as_documented()
