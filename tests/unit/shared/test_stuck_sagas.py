"""Every process's /internal/sagas routes read the saga tables its sweeper watches, on a
real SQLite database: securities' orders past their deadline are listed by kind, a buy
order with its hold at accounts and a sell order without one, and the saga behind a hold
is found by the hold's id. A process without sagas (accounts) lists none."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.accounts.main import create_app as accounts_app
from services.securities import store
from services.securities.main import create_app as securities_app
from shared.saga.store import Holds
from tests.tokens import Minter
from tests.unit.shared.test_internal_routes import settings


@pytest.fixture
async def securities(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = securities_app(settings("securities", tmp_path))
    runtime = app.state.runtime
    await runtime.db.create_all(store.Base.metadata)
    headers = {"authorization": f"Bearer {Minter().service_token()}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://securities", headers=headers
    ) as http:
        yield app, http
    await runtime.db.dispose()


async def add_order(app: FastAPI, side: str, *, deadline_in_s: float | None, outcome: str | None = None) -> str:
    now = app.state.runtime.clock.now()
    order_id = str(uuid.uuid4())
    order = store.Order(
        id=order_id,
        customer_id=str(uuid.uuid4()),
        account_id="6222020000000001",
        symbol="600519",
        side=side,
        order_type="limit",
        quantity=100,
        limit_price_milli=1_500_000,
        reserved_minor=150_000_00 if side == "buy" else 0,
        bank_day=date(2025, 6, 2),
        kind="order",
        step=None if outcome else ("reserve" if side == "buy" else "credit"),
        attempts=2,
        deadline_at=None if deadline_in_s is None else now + timedelta(seconds=deadline_in_s),
        outcome=outcome,
        correlation_id="req-" + order_id[:8],
        created_at=now - timedelta(minutes=1),
        updated_at=now,
        ended_at=now if outcome else None,
    )
    async with app.state.runtime.db.write() as session, session.begin():
        session.add(order)
    return order_id


async def test_orders_past_their_deadline_are_listed_with_their_holds(
    securities: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = securities
    stuck_buy = await add_order(app, "buy", deadline_in_s=-60)
    stuck_sell = await add_order(app, "sell", deadline_in_s=-30)
    await add_order(app, "buy", deadline_in_s=-2)  # within the grace: the sweeper has a moment yet
    await add_order(app, "buy", deadline_in_s=60)
    await add_order(app, "buy", deadline_in_s=None, outcome="completed")

    r = await http.get("/internal/sagas/stuck", params={"grace_s": 5})

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["service"], body["total"], body["grace_s"]) == ("securities", 2, 5.0)
    (orders,) = body["kinds"]
    assert (orders["kind"], orders["total"]) == ("order", 2)
    assert [(s["id"], s["hold_id"]) for s in orders["items"]] == [
        (stuck_buy, f"securities-order-{stuck_buy}"),
        (stuck_sell, None),
    ]
    first = orders["items"][0]
    assert (first["step"], first["attempts"], first["correlation_id"]) == ("reserve", 2, "req-" + stuck_buy[:8])
    assert 59 < first["overdue_s"] < 70


async def test_the_listing_is_bounded_per_kind_and_counts_them_all(
    securities: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = securities
    ids = [await add_order(app, "buy", deadline_in_s=-60 + i) for i in range(3)]

    r = await http.get("/internal/sagas/stuck", params={"limit": 2})

    (orders,) = r.json()["kinds"]
    assert orders["total"] == 3
    assert [s["id"] for s in orders["items"]] == ids[:2]


async def test_the_saga_behind_a_hold_is_found_by_the_holds_id(
    securities: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = securities
    live = await add_order(app, "buy", deadline_in_s=60)
    ended = await add_order(app, "buy", deadline_in_s=None, outcome="cancelled")
    sell = await add_order(app, "sell", deadline_in_s=60)
    asked = [f"securities-order-{live}", f"securities-order-{ended}", f"securities-order-{sell}", "another-hold"]

    r = await http.post("/internal/sagas/holds", json={"hold_ids": asked})

    assert r.status_code == 200, r.text
    found = {s["hold_id"]: (s["id"], s["outcome"], s["overdue_s"]) for s in r.json()["items"]}
    assert found == {asked[0]: (live, None, None), asked[1]: (ended, "cancelled", None)}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/internal/sagas/stuck?grace_s=-1", None),
        ("GET", "/internal/sagas/stuck?limit=0", None),
        ("GET", "/internal/sagas/stuck?limit=501", None),
        ("GET", "/internal/sagas/stuck?min_attempts=1", None),
        ("POST", "/internal/sagas/holds", {"hold_ids": "one"}),
        ("POST", "/internal/sagas/holds", {"hold_ids": [], "more": 1}),
    ],
)
async def test_bad_input_is_refused(
    securities: tuple[FastAPI, httpx.AsyncClient], method: str, path: str, body: Any
) -> None:
    _, http = securities

    r = await http.request(method, path, json=body)

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (422, "validation-error")


async def test_a_process_without_sagas_lists_none(tmp_path: Path) -> None:
    app = accounts_app(settings("accounts", tmp_path))
    headers = {"authorization": f"Bearer {Minter().service_token()}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://accounts") as http:
        r = await http.get("/internal/sagas/stuck", headers=headers)
    await app.state.runtime.db.dispose()

    assert r.status_code == 200, r.text
    assert (r.json()["service"], r.json()["total"], r.json()["kinds"]) == ("accounts", 0, [])


@pytest.mark.parametrize(
    ("holds", "saga", "hold_id"),
    [
        (Holds(), {"id": "p-1", "side": "buy"}, "p-1"),
        (Holds("securities-order-"), {"id": "o-1", "side": "buy"}, "securities-order-o-1"),
        (Holds("securities-order-", when=lambda s: s.side == "buy"), {"id": "o-1", "side": "sell"}, None),
    ],
)
def test_a_sagas_hold_is_its_id_behind_a_prefix(holds: Holds, saga: dict[str, str], hold_id: str | None) -> None:
    row = type("Row", (), saga)()
    assert holds.hold_id(row) == hold_id
    if hold_id is not None:
        assert holds.saga_id(hold_id) == saga["id"]


def test_a_hold_without_the_prefix_is_no_saga_of_the_table() -> None:
    assert Holds("securities-order-").saga_id("ins-premium-1") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/internal/sagas/stuck"), ("POST", "/internal/sagas/holds"), ("GET", "/internal/holds/active")],
)
@pytest.mark.parametrize(("roles", "status"), [(None, 401), (["customer"], 403)])
async def test_only_services_and_operators_see_sagas_and_holds(
    tmp_path: Path, method: str, path: str, roles: list[str] | None, status: int
) -> None:
    app = accounts_app(settings("accounts", tmp_path))
    headers = {} if roles is None else {"authorization": f"Bearer {Minter().issue('someone', roles)}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://accounts") as http:
        r = await http.request(method, path, headers=headers, json={"hold_ids": []} if method == "POST" else None)
    await app.state.runtime.db.dispose()

    assert r.status_code == status, r.text


async def test_sagas_sent_again_and_again_are_listed_when_asked(securities: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, http = securities
    resending = await add_order(app, "buy", deadline_in_s=10)  # its second send (attempts=2), deadline moved on
    await add_order(app, "buy", deadline_in_s=None, outcome="failed")  # sent twice too, but ended

    plain = (await http.get("/internal/sagas/stuck")).json()
    asked = (await http.get("/internal/sagas/stuck", params={"min_attempts": 2})).json()

    assert plain["total"] == 0
    assert (asked["total"], asked["min_attempts"]) == (1, 2)
    (orders,) = asked["kinds"]
    assert [(s["id"], s["overdue_s"]) for s in orders["items"]] == [(resending, None)]
