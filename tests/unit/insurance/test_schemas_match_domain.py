"""shared/schemas/insurance.py copies the insurance domain's value lists (the gateway
may import only `shared`): they must stay equal (the enums are checked in
tests/unit/test_schemas_match_domain.py), and the documented examples must name real
products, claim kinds, document kinds and demo accounts."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from services.insurance import domain
from shared import sandbox
from shared.money import to_minor
from shared.schemas import insurance as schemas
from tests.unit.examples import examples_of

PAYING_DEMO_ACCOUNTS = {
    a.id for u in sandbox.DEMO_CUSTOMERS for a in u.accounts if a.kind in domain.PAYING_ACCOUNT_KINDS
}


def test_the_currency_is_the_domains() -> None:
    assert get_args(schemas.CurrencyName) == (domain.CURRENCY,)


@pytest.mark.parametrize("example", examples_of(schemas.InsuranceQuoteCreate), ids=lambda e: e["product_code"])
def test_quote_examples_are_priced_by_the_catalogue(example: dict[str, Any]) -> None:
    body = schemas.InsuranceQuoteCreate.model_validate(example)
    product = domain.find_product(domain.CATALOGUE, body.product_code)
    # Raises for an age, term or sum insured the product does not offer.
    assert domain.premium_minor(product, body.age, body.term_days, to_minor(body.sum_insured)) > 0


def test_policy_examples_pay_from_demo_checking_or_savings_accounts() -> None:
    assert {e["account_id"] for e in examples_of(schemas.PolicyCreate)} <= PAYING_DEMO_ACCOUNTS


@pytest.mark.parametrize("example", examples_of(schemas.ClaimCreate), ids=lambda e: e["kind"])
def test_claim_examples_are_covered_claim_kinds(example: dict[str, Any]) -> None:
    body = schemas.ClaimCreate.model_validate(example)
    (product,) = [p for p in domain.CATALOGUE if p.claim_kind(body.kind) is not None]
    assert body.cause is None or body.cause not in product.exclusions
    assert to_minor(body.amount) <= product.sum_insured_max_minor
    if body.payout_account_id is not None:
        assert body.payout_account_id in PAYING_DEMO_ACCOUNTS


def test_document_examples_are_known_document_kinds() -> None:
    for example in examples_of(schemas.DocumentCreate):
        assert example["kind"] in domain.DOCUMENT_KINDS
        assert example["checksum"] == example["checksum"].lower()


def test_a_rejection_example_gives_a_reason() -> None:
    # The service refuses a rejection without one (422 reason-required).
    rejections = [e for e in examples_of(schemas.DecisionCreate) if e["decision"] == "reject"]
    assert rejections
    assert all(e.get("reason") for e in rejections)


def test_people_and_refund_value_lists_are_the_domains() -> None:
    assert get_args(schemas.IdTypeName) == domain.ID_TYPES
    assert get_args(schemas.InsuredRelationshipName) == domain.INSURED_RELATIONSHIPS
    assert get_args(schemas.BeneficiaryRelationshipName) == domain.BENEFICIARY_RELATIONSHIPS
    assert get_args(schemas.RefundBasisName) == tuple(domain.RefundBasis)


def test_the_documented_upload_limits_are_the_domains() -> None:
    assert schemas.DOCUMENT_TYPES == domain.ACCEPTED_TYPES
    assert get_args(schemas.DocumentTypeName) == domain.ACCEPTED_TYPES
    assert schemas.DOCUMENT_MAX_BYTES == domain.MAX_DOCUMENT_BYTES < schemas.DOCUMENT_BODY_BYTES
