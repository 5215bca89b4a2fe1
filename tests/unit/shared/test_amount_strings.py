"""An amount or a price written well but too large is refused for its size, naming the
largest; one written badly, for how to write it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from shared.money import AmountIn
from shared.schemas.securities import PriceIn


class Paid(BaseModel):
    amount: AmountIn


class Priced(BaseModel):
    price: PriceIn


def refusal(model: type[BaseModel], field: str, value: str) -> str:
    with pytest.raises(ValidationError) as raised:
        model.model_validate({field: value})
    return str(raised.value.errors()[0]["msg"])


@pytest.mark.parametrize("value", ["100000000000.00", "99999999999999999999999.00", "100000000000"])
def test_an_amount_too_large_says_the_maximum(value: str) -> None:
    assert "exceeds the maximum of 10000000000.00" in refusal(Paid, "amount", value)


@pytest.mark.parametrize("value", ["1e5", "12.345", "-1.00", "01.00", " 1.00"])
def test_an_amount_written_badly_says_how_to_write_it(value: str) -> None:
    assert "write digits with at most 2 decimal places" in refusal(Paid, "amount", value)


def test_a_price_too_large_says_so() -> None:
    assert "100000000.00 or more" in refusal(Priced, "price", "99999999999999999999999.00")
    assert str(Priced.model_validate({"price": "99999999.99"}).price) == "99999999.99"
