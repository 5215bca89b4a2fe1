"""shared/schemas copies the domains' value lists (the gateway may import only `shared`):
they must stay equal. Each service's own test_schemas_match_domain.py checks that its
examples are ones its domain would take."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import pytest

from services.insurance import domain as insurance
from services.securities import domain as securities
from shared.schemas import insurance as insurance_schemas
from shared.schemas import securities as securities_schemas


@pytest.mark.parametrize(
    ("literal", "enum"),
    [
        (insurance_schemas.ClaimStatusName, insurance.ClaimStatus),
        (insurance_schemas.PolicyStatusName, insurance.PolicyStatus),
        (insurance_schemas.DecisionName, insurance.Decision),
        (insurance_schemas.FraudRuleName, insurance.FraudRule),
        (securities_schemas.SideName, securities.Side),
        (securities_schemas.OrderTypeName, securities.OrderType),
        (securities_schemas.OrderStatusName, securities.OrderStatus),
        (securities_schemas.ExchangeName, securities.Exchange),
        (securities_schemas.BoardName, securities.Board),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_literal_lists_match_the_domain_enums(literal: Any, enum: type[StrEnum]) -> None:
    assert list(get_args(literal)) == [member.value for member in enum]
