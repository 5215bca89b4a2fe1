"""Account freezes: an operator with the compliance role freezes an account fully or for
outflows only, with a reason the customer is told, and lifts it again. The ledger's rules
refuse what a freeze forbids (`domain.check_not_frozen`, on every hold, debit and credit);
this module only sets and clears the freeze, publishes `AccountFrozen` / `AccountUnfrozen`
and records both in the audit trail with the state before and after."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.accounts import store
from services.accounts.deps import RuntimeDep
from shared import audit
from shared.auth import ROLE_COMPLIANCE, Principal, current_principal
from shared.events import accounts as ev
from shared.problems import PROBLEM, Problem, not_found
from shared.schemas.accounts import AccountList, AccountPublic

router = APIRouter(tags=["internal"])


class FreezeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mode": "outflows", "reason": "under review"}]}
    )

    mode: Literal["full", "outflows"] = Field(description="`full`: nothing in or out; `outflows`: nothing out")
    reason: str = Field(min_length=1, max_length=200, description="Why, as the customer will read it")


class UnfreezeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "review closed"}]})

    reason: str = Field(min_length=1, max_length=200, description="Why the freeze is lifted")


async def compliance_officer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.has(ROLE_COMPLIANCE):
        raise Problem(403, "forbidden", "this operation needs the compliance role")
    return principal


ComplianceOfficer = Annotated[Principal, Depends(compliance_officer)]
ERRORS: dict[int | str, dict[str, Any]] = {403: PROBLEM, 404: PROBLEM, 409: PROBLEM}


def _state(account: store.Account) -> dict[str, Any] | None:
    if account.freeze_mode is None:
        return None
    return {"mode": account.freeze_mode, "reason": account.freeze_reason, "since": account.frozen_at}


async def _customer_account(session: Any, account_id: str) -> store.Account:
    account = await session.get(store.Account, account_id, with_for_update=True)
    # Internal accounts (the bank's own) are not frozen by this route.
    if account is None or account.customer_id is None:
        raise not_found("account", account_id)
    return account


@router.get(
    "/internal/freezes",
    response_model=AccountList,
    responses={403: PROBLEM},
    summary="The frozen customer accounts, latest freeze first",
)
async def frozen_accounts(
    _officer: ComplianceOfficer,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> AccountList:
    """Every customer account under a freeze, the latest frozen first, at most `limit`."""
    query = (
        select(store.Account)
        .where(store.Account.freeze_mode.is_not(None))
        .order_by(store.Account.frozen_at.desc(), store.Account.id)
        .limit(limit)
    )
    async with runtime.db.read() as session:
        accounts = (await session.scalars(query)).all()
    return AccountList(items=[AccountPublic.of(a) for a in accounts])


@router.post(
    "/internal/accounts/{account_id}/freeze",
    response_model=AccountPublic,
    responses=ERRORS,
    summary="Freeze an account, fully or for outflows only",
)
async def freeze(
    account_id: str, body: FreezeRequest, officer: ComplianceOfficer, runtime: RuntimeDep
) -> AccountPublic:
    """Freeze the account (or change the mode or reason of its freeze): from now on every
    hold and debit on it is refused with `account_frozen`, and with `full` every credit
    too. Holds already placed stay until their saga settles them."""
    async with runtime.unit_of_work() as uow:
        account = await _customer_account(uow.session, account_id)
        before = _state(account)
        if before is not None and (before["mode"], before["reason"]) == (body.mode, body.reason):
            return AccountPublic.of(account)
        now = runtime.clock.now()
        previous = account.freeze_mode
        account.freeze_mode, account.freeze_reason, account.frozen_at = body.mode, body.reason, now
        await audit.record(
            uow.session,
            runtime.tables.audit,
            at=now,
            service=runtime.service,
            actor=audit.actor_of(officer),
            action="account.frozen",
            subject_kind="account",
            subject_id=account.id,
            customer_id=account.customer_id,
            account_id=account.id,
            before=before,
            after=_state(account),
        )
        uow.publish(
            ev.AccountFrozen(
                account_id=account.id,
                customer_id=account.customer_id,
                mode=body.mode,
                reason=body.reason,
                frozen_at=now,
                previous_mode=previous,  # type: ignore[arg-type]
            )
        )
    return AccountPublic.of(account)


@router.post(
    "/internal/accounts/{account_id}/unfreeze",
    response_model=AccountPublic,
    responses=ERRORS,
    summary="Lift the freeze on an account",
)
async def unfreeze(
    account_id: str, body: UnfreezeRequest, officer: ComplianceOfficer, runtime: RuntimeDep
) -> AccountPublic:
    """Lift the freeze; an account that is not frozen answers 409 `not-frozen`."""
    async with runtime.unit_of_work() as uow:
        account = await _customer_account(uow.session, account_id)
        before = _state(account)
        if before is None:
            raise Problem(409, "not-frozen", f"account {account_id} is not frozen")
        previous = account.freeze_mode
        account.freeze_mode, account.freeze_reason, account.frozen_at = None, None, None
        await audit.record(
            uow.session,
            runtime.tables.audit,
            at=runtime.clock.now(),
            service=runtime.service,
            actor=audit.actor_of(officer),
            action="account.unfrozen",
            subject_kind="account",
            subject_id=account.id,
            customer_id=account.customer_id,
            account_id=account.id,
            before=before,
            after={"reason": body.reason},
        )
        uow.publish(
            ev.AccountUnfrozen(
                account_id=account.id,
                customer_id=account.customer_id,
                previous_mode=previous,  # type: ignore[arg-type]
                reason=body.reason,
            )
        )
    return AccountPublic.of(account)
