"""shared/schemas/insurance.py copies the insurance domain's value lists (the gateway
may import only `shared`): they must stay equal, and the documented examples must name
real products, claim kinds, document kinds and demo accounts."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from services.insurance import domain
from shared import sandbox
from shared.money import to_minor
from shared.schemas import insurance as schemas

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    schemas.InsuranceQuoteCreate,
    schemas.PolicyCreate,
    schemas.ClaimCreate,
    schemas.DocumentCreate,
    schemas.DecisionCreate,
)
PAYING_DEMO_ACCOUNTS = {
    a.id for u in sandbox.DEMO_CUSTOMERS for a in u.accounts if a.kind in domain.PAYING_ACCOUNT_KINDS
}


def _examples(model: type[BaseModel]) -> list[dict[str, Any]]:
    return model.model_config["json_schema_extra"]["examples"]  # type: ignore[index, call-overload, no-any-return]


@pytest.mark.parametrize(
    ("literal", "enum"),
    [
        (schemas.ClaimStatusName, domain.ClaimStatus),
        (schemas.PolicyStatusName, domain.PolicyStatus),
        (schemas.DecisionName, domain.Decision),
    ],
)
def test_literal_lists_match_the_domain_enums(literal: Any, enum: type[StrEnum]) -> None:
    assert list(get_args(literal)) == [member.value for member in enum]


def test_the_currency_is_the_domains() -> None:
    assert get_args(schemas.CurrencyName) == (domain.CURRENCY,)


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_every_request_model_has_valid_examples(model: type[BaseModel]) -> None:
    examples = _examples(model)
    assert examples
    for example in examples:
        model.model_validate(example)
    assert model.model_json_schema()["examples"] == examples


@pytest.mark.parametrize("example", _examples(schemas.InsuranceQuoteCreate), ids=lambda e: e["product_code"])
def test_quote_examples_are_priced_by_the_catalogue(example: dict[str, Any]) -> None:
    body = schemas.InsuranceQuoteCreate.model_validate(example)
    product = domain.find_product(domain.CATALOGUE, body.product_code)
    # Raises for an age, term or sum insured the product does not offer.
    assert domain.premium_minor(product, body.age, body.term_days, to_minor(body.sum_insured)) > 0


def test_policy_examples_pay_from_demo_checking_or_savings_accounts() -> None:
    assert {e["account_id"] for e in _examples(schemas.PolicyCreate)} <= PAYING_DEMO_ACCOUNTS


@pytest.mark.parametrize("example", _examples(schemas.ClaimCreate), ids=lambda e: e["kind"])
def test_claim_examples_are_covered_claim_kinds(example: dict[str, Any]) -> None:
    body = schemas.ClaimCreate.model_validate(example)
    (product,) = [p for p in domain.CATALOGUE if p.claim_kind(body.kind) is not None]
    assert body.cause is None or body.cause not in product.exclusions
    assert to_minor(body.amount) <= product.sum_insured_max_minor
    if body.payout_account_id is not None:
        assert body.payout_account_id in PAYING_DEMO_ACCOUNTS


def test_document_examples_are_known_document_kinds() -> None:
    for example in _examples(schemas.DocumentCreate):
        assert example["kind"] in domain.DOCUMENT_KINDS
        assert example["checksum"] == example["checksum"].lower()


def test_a_rejection_example_gives_a_reason() -> None:
    # The service refuses a rejection without one (422 reason-required).
    rejections = [e for e in _examples(schemas.DecisionCreate) if e["decision"] == "reject"]
    assert rejections
    assert all(e.get("reason") for e in rejections)
