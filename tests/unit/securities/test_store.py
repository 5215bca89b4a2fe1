"""The orders list's status filter, written in SQL, picks exactly the orders whose public
status (`domain.order_status`, computed from the saga's step and outcome) it names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import product

import pytest
from sqlalchemy import create_engine, insert, select

from services.securities import store
from services.securities.domain import TERMINAL, OrderStatus, order_status
from services.securities.domain.sagas import CAPTURE, CREDIT, CUSTOMER, EXPIRED, RELEASE, RESERVE, REST, TIMEOUT
from shared.saga.model import CANCELLED, COMPLETED, FAILED

NOW = datetime(2026, 5, 20, tzinfo=UTC)
SHAPES = [
    *product(
        [RESERVE, REST, CAPTURE, CREDIT, RELEASE],
        [None],
        [None, CUSTOMER, EXPIRED, TIMEOUT, "hold_not_active"],
        [0, 40],
    ),
    *product([None], [COMPLETED, CANCELLED, FAILED], [None, CUSTOMER, EXPIRED, TIMEOUT], [0, 40]),
]


def _order(n: int, step: str | None, outcome: str | None, reason: str | None, filled: int) -> store.Order:
    return store.Order(
        seq=n,
        id=f"order-{n}",
        kind="order",
        step=step,
        attempts=1,
        outcome=outcome,
        reason=reason,
        customer_id="c",
        account_id="a",
        symbol="600519",
        side="buy",
        order_type="limit",
        quantity=100,
        filled_quantity=filled,  # an order filled in parts
        leg=1,
        reserved_minor=0,
        bank_day=date(2026, 5, 20),
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize("status", [*OrderStatus, "open"])
def test_the_status_filter_agrees_with_the_public_status(status: str) -> None:
    orders = [_order(n, *shape) for n, shape in enumerate(SHAPES, start=1)]
    engine = create_engine("sqlite://")
    table = store.Order.__table__
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{c.key: getattr(o, c.key, None) for c in table.columns} for o in orders])
        found = set(conn.scalars(select(table.c.id).where(store.order_status_is(status))))
    if status == "open":
        expected = {o.id for o in orders if order_status(o) not in TERMINAL}
    else:
        expected = {o.id for o in orders if order_status(o) == status}
    assert found == expected
