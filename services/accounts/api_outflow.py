"""What other services ask accounts about a customer's daily limit: the payments app shows
the day's remaining limit from it, so the figure is the one each reservation is checked
against."""

from __future__ import annotations

from fastapi import APIRouter

from services.accounts import domain, store
from services.accounts.deps import ContextDep, RuntimeDep
from shared.auth import ServiceCaller
from shared.problems import not_found
from shared.schemas.accounts import DailyOutflowEntry

router = APIRouter()


@router.get(
    "/internal/customers/{customer_id}/daily-outflow",
    response_model=DailyOutflowEntry,
    tags=["internal"],
    summary="A customer's payments out today against their class's daily limit",
)
async def daily_outflow(
    customer_id: str, _caller: ServiceCaller, runtime: RuntimeDep, ctx: ContextDep
) -> DailyOutflowEntry:
    day = ctx.clock.bank_day()
    async with runtime.db.read() as session:
        customer = await session.get(store.Customer, customer_id)
        if customer is None:
            raise not_found("customer", customer_id)
        used = await store.outflow_as_of(session, customer_id, day)
    limit = ctx.limits.daily_outflow_minor.get(domain.KycClass(customer.kyc_class))
    return DailyOutflowEntry(kyc_class=customer.kyc_class, day=day, daily_limit_minor=limit, used_minor=used)
