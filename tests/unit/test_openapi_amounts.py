"""Every amount a Sandbank API takes is the one strict type of shared/money.py, and the
OpenAPI documents say exactly what the models accept: strings of `AMOUNT_PATTERN` in,
everything else (numbers, signs, exponents, spaces, leading zeros) refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.money import AMOUNT_PATTERN
from shared.schemas.insurance import ClaimCreate, InsuranceQuoteCreate
from shared.schemas.payments import BillCreate, DepositCreate, QrCreate, TopupCreate, TransferCreate
from shared.schemas.securities import PRICE_PATTERN, BankTransferCreate, OrderCreate
from shared.settings import DbSettings
from tests.unit.test_openapi_truth import APPS

MONEY_FIELDS = {"amount": AMOUNT_PATTERN, "sum_insured": AMOUNT_PATTERN, "price": PRICE_PATTERN}
# Each refused by the documented pattern; before, each was taken and moved money.
NEAR_MISSES: list[Any] = [
    "1E+1",
    "1e2",
    "+1.00",
    "-1.00",
    "001.00",
    "00",
    "01",
    "1.",
    ".5",
    " 1.00 ",
    "1.00\n",
    "1.001",
    "1,00",
    "\u0661\u0662",  # Arabic-Indic digits: Python's \d would take them
    "NaN",
    "Infinity",
    "0x10",
    "",
    "123456789012.00",  # 12 integer digits: past the bound
    1.5,
    10,
    True,
    None,
    ["1.00"],
]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    directory: Path = tmp_path_factory.mktemp("amounts")
    apps: dict[str, FastAPI] = {
        name: create(cls(service=name, db=DbSettings(url=f"sqlite+aiosqlite:///{directory / name}.db")))
        for name, (create, cls) in APPS.items()
    }
    return {name: app.openapi() for name, app in apps.items()}


def _request_schemas(document: dict[str, Any]) -> Iterator[str]:
    for operations in document["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                if ref:
                    yield ref.rsplit("/", 1)[-1]


def _money_properties(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    schemas = document["components"]["schemas"]
    for name in sorted(set(_request_schemas(document))):
        for prop, schema in schemas[name].get("properties", {}).items():
            if prop in MONEY_FIELDS:
                for option in schema.get("anyOf", [schema]):
                    if option.get("type") != "null":
                        yield name, prop, option


@pytest.mark.parametrize("app", sorted(APPS))
def test_every_amount_a_request_takes_is_a_string_of_the_one_pattern(
    documents: dict[str, dict[str, Any]], app: str
) -> None:
    found = list(_money_properties(documents[app]))
    assert found or app == "accounts", f"{app} documents no amount in any request"
    for name, prop, schema in found:
        assert schema.get("type") == "string", f"{app} {name}.{prop} is not a string: {schema}"
        assert schema.get("pattern") == MONEY_FIELDS[prop], f"{app} {name}.{prop}: {schema}"


AMOUNT_MODELS: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (TransferCreate, {"payer_account_id": "a", "payee_account_id": "b"}, "amount"),
    (BillCreate, {"payer_account_id": "a", "biller_code": "SGCC", "bill_reference": "1"}, "amount"),
    (QrCreate, {"payer_account_id": "a", "qr_payload": "x"}, "amount"),
    (TopupCreate, {"payer_account_id": "a", "phone": "+8613912345678"}, "amount"),
    (DepositCreate, {"account_id": "a"}, "amount"),
    (BankTransferCreate, {"from": "bank"}, "amount"),
    (InsuranceQuoteCreate, {"product_code": "travel", "age": 30, "term_days": 15}, "sum_insured"),
    (ClaimCreate, {"policy_id": "p", "kind": "screen_damage", "incident_date": "2026-01-02"}, "amount"),
]


def _pattern_of(model: type[BaseModel], field: str) -> str:
    schema = model.model_json_schema()["properties"][field]
    return next(o["pattern"] for o in schema.get("anyOf", [schema]) if "pattern" in o)


@pytest.mark.parametrize(("model", "base", "field"), AMOUNT_MODELS, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_what_the_documented_pattern_allows_the_model_accepts(
    model: type[BaseModel], base: dict[str, Any], field: str, data: st.DataObject
) -> None:
    text = data.draw(st.from_regex(re.compile(_pattern_of(model, field), re.ASCII), fullmatch=True))
    parsed = model.model_validate(base | {field: text})
    assert getattr(parsed, field) == Decimal(text)


@pytest.mark.parametrize("value", NEAR_MISSES, ids=repr)
@pytest.mark.parametrize(("model", "base", "field"), AMOUNT_MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_near_misses_of_the_pattern_are_refused(
    model: type[BaseModel], base: dict[str, Any], field: str, value: Any
) -> None:
    if value is None and not model.model_fields[field].is_required():
        pytest.skip("null means no amount here (a QR code that carries its own)")
    with pytest.raises(ValidationError) as refused:
        model.model_validate(base | {field: value})
    assert {e["loc"][0] for e in refused.value.errors()} == {field}


ORDER = {"symbol": "510300", "side": "buy", "type": "limit", "quantity": 100}


@pytest.mark.parametrize("value", ["3.862", "1688", "0.5", "1688.00"])
def test_prices_of_the_pattern_are_accepted(value: str) -> None:
    order = OrderCreate.model_validate(ORDER | {"price": value})
    assert order.price == Decimal(value)


@pytest.mark.parametrize("value", ["1E+1", "+3.862", "03.862", "3.", " 3.862", 3.862, "1.0000001"], ids=repr)
def test_prices_off_the_pattern_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        OrderCreate.model_validate(ORDER | {"price": value})
