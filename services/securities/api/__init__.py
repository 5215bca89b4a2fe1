"""securities HTTP API: market data (quotes, a live quote stream), orders, positions,
bank-securities transfers, and the sandbox price control. Cash moves only through
`accounts.commands`; these routes start sagas and answer with their state."""

from fastapi import APIRouter

from services.securities import domain
from services.securities.api import market, orders, permissions, trades, transfers
from shared.errors import DomainError

router = APIRouter()
router.include_router(market.router)
router.include_router(orders.router)
router.include_router(permissions.router)
router.include_router(trades.router)
router.include_router(transfers.router)

# This API's one table from domain errors to HTTP statuses (others answer 422).
ERROR_STATUSES: dict[type[DomainError], int] = {
    domain.MarketClosed: 409,
    domain.UnknownInstrument: 404,
    domain.OrderNotFound: 404,
    domain.OrderNotCancellable: 409,
    domain.NoSecuritiesAccount: 409,
    domain.NoBankAccount: 409,
    domain.AccountNotFound: 404,
    domain.NotEnabledForBoard: 403,
}

__all__ = ["ERROR_STATUSES", "router"]
