"""Conditional GETs for data a phone polls (RFC 9110 sections 8.8.3, 13.1.2 and 15.4.5):
an `ETag` on every 200, and `304 Not Modified` without a body when the phone's
`If-None-Match` names the representation it already holds. A quote screen polled every
second then downloads a quote only when it changed.

The ETag is a hash of the service's answer, so no service keeps versions for it. A row
may leave top-level members that change on every answer out of the hash (`volatile`,
e.g. the calendar's `now`): its ETag is then weak (`W/`), as RFC 9110 asks of a
validator that stands for equivalent rather than identical bodies.

`Cache-Control: private, no-cache`: the phone may keep the copy but must ask before
using it, because the market ticks every 500 ms (`SECURITIES_TICK_INTERVAL_MS`), below
the one-second grain of `max-age`: any max-age would let a screen show a stale price
without asking. `private`: the answer needs a session, so no shared cache keeps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

CACHE_CONTROL = "private, no-cache"
# What the OpenAPI document says of the headers and of the 304.
HEADERS_DOC: dict[str, Any] = {
    "ETag": {"description": "Names this representation: send it back in If-None-Match", "schema": {"type": "string"}},
    "Cache-Control": {"description": "`private, no-cache`: revalidate before reuse", "schema": {"type": "string"}},
}
NOT_MODIFIED: dict[str, Any] = {
    "description": "Not Modified: the If-None-Match ETag is still current; no body",
    "headers": HEADERS_DOC,
}


def etag_of(content: bytes, volatile: Iterable[str] = ()) -> str:
    """A quoted ETag for a JSON body: strong over its bytes, weak over the body without
    its `volatile` top-level members."""
    left_out = tuple(volatile)
    if left_out:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            kept = {k: v for k, v in body.items() if k not in left_out}
            digest = hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
            return f'W/"{digest}"'
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names `etag`: `*`, or a list of entity tags compared weakly
    (RFC 9110 13.1.2: W/ ignored). Anything unparsable matches nothing."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))


def conditional(request: Request, response: Response, volatile: Iterable[str] = ()) -> Response:
    """The service's answer with its ETag and Cache-Control, or a 304 when the caller
    holds it already. Only a 200 is a representation to validate; errors pass as they are."""
    if response.status_code != 200:
        return response
    etag = etag_of(bytes(response.body), volatile)
    headers = {"etag": etag, "cache-control": CACHE_CONTROL}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
