"""The one reader of the `Idempotency-Key` header (IETF draft), for the gateway and every
service: 1-255 printable characters, surrounding quotes and blanks dropped.

A route takes `IdempotencyKey` (money moves: the header is required) or
`OptionalIdempotencyKey` (a retry without a key is a new request) as a parameter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.problems import Problem


def read_key(request: Request) -> str | None:
    """The request's key, or None when it sent none."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')
    if not (1 <= len(key) <= 255) or not key.isprintable():
        raise Problem(400, "idempotency-key-invalid", "Idempotency-Key must be 1-255 printable characters")
    return key


def require_key(request: Request) -> str:
    key = read_key(request)
    if key is None:
        raise Problem(
            400, "idempotency-key-missing", "this request moves money: send an Idempotency-Key header (e.g. a UUID)"
        )
    return key


async def _required(request: Request) -> str:
    return require_key(request)


async def _optional(request: Request) -> str | None:
    return read_key(request)


IdempotencyKey = Annotated[str, Depends(_required)]
OptionalIdempotencyKey = Annotated[str | None, Depends(_optional)]
