"""What the securities routes share: typed dependencies and JSON answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.securities.handlers import Context
from shared.accounts_client import AccountsClient
from shared.problems import PROBLEM_JSON
from shared.runtime import Runtime

PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "Problem details (RFC 9457)"}


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def _ctx(request: Request) -> Context:
    return request.app.state.ctx


async def _accounts(request: Request) -> AccountsClient:
    return request.app.state.accounts


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
ContextDep = Annotated[Context, Depends(_ctx)]
AccountsDep = Annotated[AccountsClient, Depends(_accounts)]


def json_answer(model: BaseModel, self_link: str, status: int) -> JSONResponse:
    """A resource with its Location (202 for a new one, 200 for one a key already made)."""
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers={"location": self_link})
