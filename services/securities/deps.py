"""The securities routes' typed dependencies (what `create_app` made, by type), and their JSON answers."""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.securities.handlers import Context
from shared.accounts_client import UNAVAILABLE, AccountsClient
from shared.idempotency import REPLAYED
from shared.web import RuntimeDep, from_state

ContextDep = Annotated[Context, from_state("ctx")]
AccountsDep = Annotated[AccountsClient, from_state("accounts", problems=UNAVAILABLE)]


def json_answer(model: BaseModel, self_link: str, status: int, *, replayed: bool = False) -> JSONResponse:
    """A resource with its Location (202 for a new one, 200 for one a key already made,
    marked `Idempotent-Replayed`)."""
    headers = {"location": self_link} | (REPLAYED if replayed else {})
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


__all__ = ["AccountsDep", "ContextDep", "RuntimeDep", "json_answer"]
