"""A brokerage app polling a quote screen through the gateway: quotes (with their five
levels), ticks, bars and the calendar answer with an ETag and `Cache-Control: private,
no-cache`, and `304 Not Modified` without a body to an If-None-Match naming the copy the
phone holds; a price move changes the ETag. The symbol is pinned, so only the test moves it."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.e2e.phone import Phone
from tests.e2e.test_securities import set_price

pytestmark = pytest.mark.e2e

SYMBOL = "600036"


async def revalidated(customer: Phone, path: str, **params: str) -> str:
    """GET `path` for its ETag, then again with it: 304, no body. The ETag."""
    first = await customer.get(path, params=params)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = await customer.get(path, params=params, headers={"if-none-match": etag})
    assert again.status_code == 304, again.text
    assert (again.content, again.headers["etag"], again.headers["cache-control"]) == (b"", etag, "private, no-cache")
    return etag


async def test_polled_market_data_answers_304_until_it_changes(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], customer: Phone
) -> None:
    prev_close = (await customer.get(f"/v1/market/quotes/{SYMBOL}")).json()["prev_close"]
    quote = await set_price(gateway, operator_headers, SYMBOL, prev_close)
    assert len(quote["bids"]) == len(quote["asks"]) == 5

    etag = await revalidated(customer, f"/v1/market/quotes/{SYMBOL}")
    listed = await revalidated(customer, "/v1/market/quotes", symbols=SYMBOL)
    ticks = await revalidated(customer, f"/v1/market/{SYMBOL}/ticks")
    bars = await revalidated(customer, f"/v1/market/{SYMBOL}/bars")
    # The calendar's `now` moves with every answer; its ETag is weak and leaves it out.
    calendar = await revalidated(customer, "/v1/market/calendar")
    assert calendar.startswith('W/"')
    assert not etag.startswith("W/")

    # The price moves: every copy the phone held is stale, the quote comes whole again.
    await set_price(gateway, operator_headers, SYMBOL, f"{Decimal(prev_close) + Decimal('0.05'):.2f}")
    moved = await customer.get(f"/v1/market/quotes/{SYMBOL}", headers={"if-none-match": etag})
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] != etag and moved.json()["last"] != quote["last"]
    for path, params, held in [
        ("/v1/market/quotes", {"symbols": SYMBOL}, listed),
        (f"/v1/market/{SYMBOL}/ticks", {}, ticks),  # the price control trades at the price: a tick
        (f"/v1/market/{SYMBOL}/bars", {}, bars),
    ]:
        r = await customer.get(path, params=params, headers={"if-none-match": held})
        assert (r.status_code, r.headers["etag"] != held) == (200, True), path
    assert (await customer.get("/v1/market/calendar", headers={"if-none-match": calendar})).status_code == 304
    # Any of several held copies, or `*`, is a match; a problem carries no ETag.
    both = f'"stale", {moved.headers["etag"]}'
    assert (await customer.get(f"/v1/market/quotes/{SYMBOL}", headers={"if-none-match": both})).status_code == 304
    unknown = await customer.get("/v1/market/quotes/999999", headers={"if-none-match": "*"})
    assert unknown.status_code == 404 and "etag" not in unknown.headers
