"""shared/schemas/securities.py copies the securities domain's value lists and limits
(the gateway may import only `shared`): they must stay equal (the enums are checked in
tests/unit/test_schemas_match_domain.py), and the documented examples must be orders the
sandbox market would take."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args

import pytest

from services.securities import domain
from services.securities.api.orders import OrderStatusFilter
from services.securities.domain.rules import MAX_ORDER_QUANTITY
from shared import sandbox
from shared.schemas import securities as schemas
from tests.unit.examples import examples_of


def test_limits_match_the_domain() -> None:
    assert schemas.MAX_ORDER_QUANTITY == MAX_ORDER_QUANTITY
    assert schemas.LOT_SIZE == domain.LOT_SIZE
    limits = schemas.OrderCreate.model_fields["quantity"].metadata
    assert any(getattr(limit, "le", None) == MAX_ORDER_QUANTITY for limit in limits)


def test_the_orders_status_filter_is_the_statuses_and_open() -> None:
    assert set(get_args(OrderStatusFilter)) == set(get_args(schemas.OrderStatusName)) | {"open"}


@pytest.mark.parametrize("example", examples_of(schemas.OrderCreate), ids=lambda e: f"{e['symbol']}-{e['side']}")
def test_order_examples_are_orders_the_market_would_take(example: dict[str, Any]) -> None:
    body = schemas.OrderCreate.model_validate(example)
    instrument = domain.BY_SYMBOL[body.symbol]  # a seeded listing
    if body.side == "buy":
        assert body.quantity % domain.LOT_SIZE == 0
    if body.type == "limit":
        assert body.price is not None
        price = domain.parse_price(body.price, instrument)  # on the tick
        assert price in domain.price_band(instrument.prev_close_milli, instrument)
    else:
        assert body.price is None


@pytest.mark.parametrize("example", examples_of(schemas.PriceSet), ids=lambda e: e["price"])
def test_price_examples_are_inside_600519s_seeded_limits(example: dict[str, Any]) -> None:
    # The examples move 600519 (Kweichow Moutai), the symbol the docs use throughout.
    moutai = domain.BY_SYMBOL["600519"]
    price = domain.parse_price(Decimal(example["price"]), moutai)
    assert price in domain.price_band(moutai.prev_close_milli, moutai)


def test_transfer_examples_name_demo_bank_accounts() -> None:
    bank_accounts = {a.id for u in sandbox.DEMO_CUSTOMERS for a in u.accounts if a.kind in ("checking", "savings")}
    named = [e["bank_account_id"] for e in examples_of(schemas.BankTransferCreate) if "bank_account_id" in e]
    assert named
    assert set(named) <= bank_accounts
