"""Ids and cursors the gateway reads itself (the notification list's cursor, the stream's
Last-Event-ID, a notification id) are parsed strictly: whatever it did not issue is a
problem+json before the database or the stream sees it, never a 500 or a dropped stream."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import ROLE_CUSTOMER
from tests.unit.gateway.fakes import logged_in

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
