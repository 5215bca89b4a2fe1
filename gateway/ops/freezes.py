"""Account freezes, for an operator with the compliance role: the gateway checks the role
and passes the request on to accounts, which owns freezes (services/accounts/freezes.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gateway.deps import Compliance, UpstreamsDep
from shared.problems import PROBLEM
from shared.schemas.accounts import AccountList, AccountPublic

router = APIRouter(
    prefix="/v1/admin/accounts",
    tags=["operator"],
    responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)

AccountId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_-]+$")]


class FreezeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mode": "outflows", "reason": "under review"}]}
    )

    mode: Literal["full", "outflows"] = Field(description="`full`: nothing in or out; `outflows`: nothing out")
    reason: str = Field(min_length=1, max_length=200, description="Why, as the customer will read it")


class FreezeLift(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "review closed"}]})

    reason: str = Field(min_length=1, max_length=200, description="Why the freeze is lifted")


@router.get("/frozen", response_model=AccountList)
async def list_frozen_accounts(
    officer: Compliance,
    upstreams: UpstreamsDep,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many accounts")] = 200,
) -> AccountList:
    """The customer accounts under a freeze, the latest frozen first, each with its mode,
    reason and since when (compliance role)."""
    answer = await upstreams.call("accounts", "GET", "/internal/freezes", caller=officer, params={"limit": limit})
    answer.raise_for_problem()
    return AccountList.model_validate(answer.json())


@router.post("/{account_id}/freeze", response_model=AccountPublic)
async def freeze_account(
    account_id: AccountId, body: FreezeCreate, officer: Compliance, upstreams: UpstreamsDep
) -> AccountPublic:
    """Freeze a customer's account, fully (nothing in or out) or for outflows only, with a
    reason the customer is told (compliance role). Payments that would debit it fail with
    `account_frozen`; the customer gets a notification. Freezing a frozen account again
    changes its mode or reason."""
    answer = await upstreams.call(
        "accounts", "POST", f"/internal/accounts/{account_id}/freeze", caller=officer, json=body.model_dump()
    )
    answer.raise_for_problem()
    return AccountPublic.model_validate(answer.json())


@router.post("/{account_id}/unfreeze", response_model=AccountPublic)
async def unfreeze_account(
    account_id: AccountId, body: FreezeLift, officer: Compliance, upstreams: UpstreamsDep
) -> AccountPublic:
    """Lift the freeze on an account (compliance role); 409 `not-frozen` if there is none."""
    answer = await upstreams.call(
        "accounts", "POST", f"/internal/accounts/{account_id}/unfreeze", caller=officer, json=body.model_dump()
    )
    answer.raise_for_problem()
    return AccountPublic.model_validate(answer.json())
