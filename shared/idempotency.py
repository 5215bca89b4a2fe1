"""The one reader of the `Idempotency-Key` header (IETF draft), for the gateway and every
service: 1-255 printable characters, surrounding quotes and blanks dropped.

A route takes `IdempotencyKey` (money moves: the header is required) or
`OptionalIdempotencyKey` (a retry without a key is a new request) as a parameter, and
starts what the key names with `create_once`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.problems import Problem, documents

if TYPE_CHECKING:
    from shared.kafka.messaging import UnitOfWork
    from shared.runtime import Runtime

T = TypeVar("T")

# On an answer a key already had: the resource as it was made, not as it is now; an app
# follows its Location (or `links.self`) for the current state.
REPLAYED = {"Idempotent-Replayed": "true"}


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


HEADER = "Idempotency-Key"
_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 255, "examples": ["0f8fad5b-d9cb-469f-a165-70867728950e"]}
INVALID = {400: "the Idempotency-Key header is missing or not 1-255 printable characters"}


def key_parameter(*, required: bool) -> dict[str, Any]:
    """The header as an OpenAPI parameter of each route that reads it."""
    if required:
        doc = (
            "Required: this request moves money. A key of the client's choosing (e.g. a UUID), "
            "1-255 printable characters: the same key and body again answer as the first request did."
        )
    else:
        doc = (
            "Optional, 1-255 printable characters (e.g. a UUID): the same key and body again answer "
            "as the first request did; without a key a retry is a new request."
        )
    return {"name": HEADER, "in": "header", "required": required, "description": doc, "schema": _KEY_SCHEMA}


@documents(INVALID, parameters=[key_parameter(required=True)])
async def _required(request: Request) -> str:
    return require_key(request)


@documents(INVALID, parameters=[key_parameter(required=False)])
async def _optional(request: Request) -> str | None:
    return read_key(request)


IdempotencyKey = Annotated[str, Depends(_required)]
OptionalIdempotencyKey = Annotated[str | None, Depends(_optional)]


async def create_once(
    runtime: Runtime,
    create: Callable[[UnitOfWork], Awaitable[tuple[T, bool]]],
    by_key: Callable[[AsyncSession, str, str], Awaitable[T | None]],
    customer_id: str,
    key: str | None,
) -> tuple[T, bool]:
    """`create` in a unit of work: what it made and whether it is new. Where a concurrent
    request with the same key won the race (the customer's unique key refused this one's
    row), what that request made, found `by_key`, not new."""
    try:
        async with runtime.unit_of_work() as uow:
            return await create(uow)
    except IntegrityError:
        if key is None:
            raise
        async with runtime.db.read() as session:
            found = await by_key(session, customer_id, key)
        if found is None:
            raise
        return found, False
