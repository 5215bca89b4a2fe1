"""What the securities routes share: dependencies, problem mapping, JSON answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.securities import domain
from services.securities.directory import AccountsDirectory
from services.securities.handlers import Context
from shared.problems import PROBLEM_JSON, Problem
from shared.runtime import Runtime

PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "Problem details (RFC 9457)"}


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def _directory(request: Request) -> AccountsDirectory:
    return request.app.state.directory  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
ContextDep = Annotated[Context, Depends(_ctx)]
DirectoryDep = Annotated[AccountsDirectory, Depends(_directory)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def order_problem(err: domain.OrderError) -> Problem:
    status = 409 if isinstance(err, domain.MarketClosed) else 422
    return Problem(status, err.code, err.detail)


def json_answer(model: BaseModel, self_link: str, status: int) -> JSONResponse:
    """A resource with its Location (202 for a new one, 200 for one a key already made)."""
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers={"location": self_link})
