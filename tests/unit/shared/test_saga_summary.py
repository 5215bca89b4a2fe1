"""GET /internal/sagas/summary counts the sagas of the tables a process's sweeper
watches by kind and outcome, on a real SQLite database (the console's saga panel)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.unit.shared.test_stuck_sagas import add_order, securities

__all__ = ["securities"]  # the fixture, shared with the stuck-saga tests


async def test_sagas_are_counted_by_kind_and_outcome(securities: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, http = securities
    await add_order(app, "buy", deadline_in_s=60)
    await add_order(app, "sell", deadline_in_s=-60)
    for _ in range(3):
        await add_order(app, "buy", deadline_in_s=None, outcome="completed")
    await add_order(app, "buy", deadline_in_s=None, outcome="cancelled")

    r = await http.get("/internal/sagas/summary")

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["service"], body["total"]) == ("securities", 6)
    assert body["counts"] == [
        {"kind": "order", "status": "cancelled", "count": 1},
        {"kind": "order", "status": "completed", "count": 3},
        {"kind": "order", "status": "in_flight", "count": 2},
    ]


async def test_the_summary_is_for_services_and_operators(securities: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, http = securities
    r = await http.get("/internal/sagas/summary", headers={"authorization": ""})
    assert r.status_code == 401
