"""Conditional GETs of polled market data: the ETag of a body, If-None-Match compared as
RFC 9110 says, and a 304 without a body when the caller holds the current copy."""

from __future__ import annotations

import orjson
import pytest
from fastapi import Request
from fastapi.responses import Response

from gateway.routing.conditional import CACHE_CONTROL, conditional, etag_of, matches

QUOTE = orjson.dumps({"symbol": "600519", "last": "1700.00", "seq": 7})
CALENDAR = orjson.dumps({"now": "2026-12-04T10:00:00.123+08:00", "open_now": True, "days": []})


def _request(if_none_match: str | None = None) -> Request:
    headers = [] if if_none_match is None else [(b"if-none-match", if_none_match.encode())]
    return Request({"type": "http", "method": "GET", "path": "/v1/market/quotes/600519", "headers": headers})


def test_the_etag_is_quoted_strong_and_follows_the_body() -> None:
    etag = etag_of(QUOTE)
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert etag_of(QUOTE) == etag
    assert etag_of(orjson.dumps({"symbol": "600519", "last": "1700.01", "seq": 8})) != etag


def test_volatile_members_are_left_out_of_a_weak_etag() -> None:
    later = orjson.dumps({"now": "2026-12-04T10:00:01.456+08:00", "open_now": True, "days": []})
    closed = orjson.dumps({"now": "2026-12-04T11:30:00+08:00", "open_now": False, "days": []})
    assert etag_of(CALENDAR, ["now"]).startswith('W/"')
    assert etag_of(CALENDAR, ["now"]) == etag_of(later, ["now"])
    assert etag_of(CALENDAR, ["now"]) != etag_of(closed, ["now"])
    assert etag_of(CALENDAR) != etag_of(later)  # strong: every byte counts
    assert etag_of(b"not json", ["now"]) == etag_of(b"not json")


@pytest.mark.parametrize(
    ("header", "etag", "found"),
    [
        (None, '"abc"', False),
        ("", '"abc"', False),
        ('"abc"', '"abc"', True),
        ('"abd"', '"abc"', False),
        ('"x", "abc"', '"abc"', True),
        ("*", '"abc"', True),
        ('W/"abc"', '"abc"', True),  # weak comparison, RFC 9110 13.1.2
        ('"abc"', 'W/"abc"', True),
        ("abc", '"abc"', False),  # unquoted: no entity tag
        ("garbage,,", '"abc"', False),
    ],
)
def test_if_none_match_is_compared_weakly(header: str | None, etag: str, found: bool) -> None:
    assert matches(header, etag) is found


def test_a_current_copy_gets_a_304_without_a_body_and_a_changed_one_the_body() -> None:
    fresh = conditional(_request(), Response(QUOTE, media_type="application/json"))
    assert (fresh.status_code, fresh.body) == (200, QUOTE)
    assert (fresh.headers["etag"], fresh.headers["cache-control"]) == (etag_of(QUOTE), CACHE_CONTROL)

    same = conditional(_request(fresh.headers["etag"]), Response(QUOTE, media_type="application/json"))
    assert (same.status_code, same.body) == (304, b"")
    assert (same.headers["etag"], same.headers["cache-control"]) == (etag_of(QUOTE), CACHE_CONTROL)
    assert "content-length" not in same.headers

    moved = orjson.dumps({"symbol": "600519", "last": "1700.01", "seq": 8})
    changed = conditional(_request(fresh.headers["etag"]), Response(moved, media_type="application/json"))
    assert (changed.status_code, changed.body, changed.headers["etag"]) == (200, moved, etag_of(moved))


def test_a_problem_passes_without_an_etag() -> None:
    problem = Response(b'{"type": "/problems/not-found"}', status_code=404, media_type="application/problem+json")
    answer = conditional(_request("*"), problem)
    assert answer.status_code == 404 and "etag" not in answer.headers
