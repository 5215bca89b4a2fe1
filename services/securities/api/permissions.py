"""Investor suitability routes: the restricted boards (STAR, ChiNext, ST) a customer is
enabled to buy on, and the sandbox's way to enable one."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from services.securities import domain, store
from services.securities.deps import ContextDep, RuntimeDep
from shared.auth import CurrentCustomer
from shared.problems import PROBLEM
from shared.schemas.securities import PermissionCreate, PermissionList, PermissionPublic

router = APIRouter(responses={401: PROBLEM})


def _listing(enabled: dict[str, datetime]) -> PermissionList:
    return PermissionList(
        items=[
            PermissionPublic(
                board=board.value,
                name=domain.BOARD_NAMES[board],
                enabled=board.value in enabled,
                enabled_at=enabled.get(board.value),
            )
            for board in domain.RestrictedBoard
        ]
    )


@router.get(
    "/v1/securities/permissions",
    response_model=PermissionList,
    tags=["permissions"],
    summary="The restricted boards and whether the customer may buy there",
)
async def list_permissions(principal: CurrentCustomer, runtime: RuntimeDep) -> PermissionList:
    async with runtime.db.read() as session:
        return _listing(await store.enabled_boards(session, principal.customer_id))


@router.post(
    "/v1/securities/permissions",
    response_model=PermissionList,
    tags=["permissions"],
    responses={422: PROBLEM},
    summary="Enable a restricted board (sandbox rule: accept its risk disclosure)",
)
async def enable_board(
    body: PermissionCreate, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> PermissionList:
    """STAR Market, ChiNext and risk-warning (ST) shares need the customer enabled before
    a buy (`403 not-enabled-for-board` otherwise). The exchanges ask assets and trading
    experience; the sandbox enables a board once its risk disclosure is accepted
    (`risk_disclosure_accepted: true`). Enabling one already enabled changes nothing."""
    board = domain.RestrictedBoard(body.board)
    domain.check_enabling(board, body.risk_disclosure_accepted)
    try:
        async with runtime.unit_of_work() as uow:
            if await uow.session.get(store.BoardPermission, (principal.customer_id, board.value)) is None:
                uow.session.add(
                    store.BoardPermission(
                        customer_id=principal.customer_id, board=board.value, enabled_at=ctx.clock.now()
                    )
                )
    except IntegrityError:
        pass  # a concurrent request enabled it first: the same answer
    async with runtime.db.read() as session:
        return _listing(await store.enabled_boards(session, principal.customer_id))
