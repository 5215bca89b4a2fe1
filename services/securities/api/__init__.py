"""securities HTTP API: market data (quotes, a live quote stream), orders, positions,
bank-securities transfers, and the sandbox price control. Cash moves only through
`accounts.commands`; these routes start sagas and answer with their state."""

from fastapi import APIRouter

from services.securities.api import market, orders, transfers

router = APIRouter()
router.include_router(market.router)
router.include_router(orders.router)
router.include_router(transfers.router)

__all__ = ["router"]
