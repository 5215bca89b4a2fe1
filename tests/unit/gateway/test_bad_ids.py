"""Ids and cursors the gateway reads itself (the notification list's cursor, the stream's
Last-Event-ID, a notification id) are parsed strictly: whatever it did not issue is a
problem+json before the database or the stream sees it, never a 500 or a dropped stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import ROLE_CUSTOMER
from shared.pagination import encode_seq, next_keyset
from tests.unit.gateway.fakes import logged_in


class Row(NamedTuple):
    created_at: datetime
    id: str


PAYMENT = Row(datetime(2026, 1, 1, tzinfo=UTC), "p-1")
JUNK = ["99999999999999999999", "²", "٣", "-1", "1.5", "abc", " 7", ""]


def on_the_wire(value: str) -> bytes:
    """A header's bytes as a client may send them: Latin-1 where it can be (so "²" is
    one byte the server reads back as "²"), UTF-8 where not."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def assert_problem(r: httpx.Response, status: int, slug: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/" + slug)


@pytest.mark.parametrize("cursor", [*JUNK, "0", "2147483648"])
async def test_a_notifications_cursor_not_ours_is_a_400(app: FastAPI, cursor: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get("/v1/notifications", params={"cursor": cursor})

    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("last_event_id", JUNK)
async def test_a_junk_last_event_id_header_is_a_400_before_the_stream_starts(app: FastAPI, last_event_id: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get("/v1/notifications/stream", headers={"Last-Event-ID": on_the_wire(last_event_id)})

    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("last_event_id", JUNK)
async def test_a_junk_last_event_id_parameter_is_a_400_before_the_stream_starts(
    app: FastAPI, last_event_id: str
) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get("/v1/notifications/stream", params={"last_event_id": last_event_id})

    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("notification_id", ["99999999999999999999", "2147483648", "²", "0"])
async def test_a_notification_id_past_the_table_is_refused(app: FastAPI, notification_id: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.post(f"/v1/notifications/{notification_id}/read")

    assert_problem(r, 422, "validation-error")


# Both lists the gateway pages itself read `limit` and `cursor` through shared/pagination.py's
# one dependency, so a bad page is the same problem on each.
GATEWAY_LISTS = ["/v1/notifications", "/v1/webhooks/endpoints/0f8e2b1c-3d4a-4b5c-8d6e-7f8091a2b3c4/deliveries"]


@pytest.mark.parametrize("path", GATEWAY_LISTS)
@pytest.mark.parametrize("limit", ["0", "-1", "101", "99999999999999999999", "ten"])
async def test_a_limit_out_of_bounds_is_a_422_on_every_gateway_list(app: FastAPI, path: str, limit: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path, params={"limit": limit})

    assert_problem(r, 422, "validation-error")


@pytest.mark.parametrize("path", GATEWAY_LISTS)
@pytest.mark.parametrize(
    "cursor",
    [encode_seq(5, of="orders"), next_keyset([PAYMENT, PAYMENT], 1, of="payments"), "5", "", "!!!"],
    ids=["an order's", "a payments cursor", "a plain number, as before cursors named their list", "empty", "junk"],
)
async def test_a_cursor_of_another_list_is_a_400_on_every_gateway_list(app: FastAPI, path: str, cursor: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path, params={"cursor": cursor})

    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [(GATEWAY_LISTS[0], encode_seq(5, of="deliveries")), (GATEWAY_LISTS[1], encode_seq(5, of="notifications"))],
    ids=["a delivery's in notifications", "a notification's in deliveries"],
)
async def test_the_gateways_lists_refuse_each_others_cursors(app: FastAPI, path: str, cursor: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path, params={"cursor": cursor})

    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("path", GATEWAY_LISTS)
async def test_an_over_long_cursor_is_a_422_on_every_gateway_list(app: FastAPI, path: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path, params={"cursor": "1" * 201})

    assert_problem(r, 422, "validation-error")
