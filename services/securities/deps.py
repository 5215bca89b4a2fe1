"""The securities routes' typed dependencies (what `create_app` made, by type), and their JSON answers."""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.securities import domain
from services.securities.handlers import Context
from shared.accounts_client import UNAVAILABLE, AccountsClient
from shared.idempotency import REPLAYED
from shared.web import RuntimeDep, from_state

ContextDep = Annotated[Context, from_state("ctx")]
AccountsDep = Annotated[AccountsClient, from_state("accounts", problems=UNAVAILABLE)]


def listed_symbol(ctx: Context, symbol: str | None) -> str | None:
    """A list's `symbol` filter, normalised; one the sandbox market does not list is a 422
    `unknown-symbol`, as for quotes (a value the API does not know is never an empty list)."""
    if not symbol:
        return None
    listed = domain.normalise_symbol(symbol)
    if listed not in ctx.sim.instruments:
        raise domain.UnknownSymbol(f"there is no listing {symbol!r} in the sandbox market")
    return listed


def json_answer(model: BaseModel, self_link: str, status: int, *, replayed: bool = False) -> JSONResponse:
    """A resource with its Location (202 for a new one, 200 for one a key already made,
    marked `Idempotent-Replayed`)."""
    headers = {"location": self_link} | (REPLAYED if replayed else {})
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


__all__ = ["AccountsDep", "ContextDep", "RuntimeDep", "json_answer"]
