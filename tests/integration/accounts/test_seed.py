"""Seeding again (every start) changes nothing, even over data kept before opening
balances had outcomes to replay."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from services.accounts import handlers, store
from shared.sandbox import DEMO_CUSTOMERS
from tests.integration.harness import Bank

pytestmark = pytest.mark.broker


async def _demo_balances(bank: Bank) -> list[tuple[int, int]]:
    ids = [acc.id for user in DEMO_CUSTOMERS for acc in user.accounts]
    return await bank.balances(*ids)


async def _reseed(bank: Bank) -> None:
    runtime = bank.app.state.runtime
    async with runtime.unit_of_work() as uow:
        await handlers.seed(bank.app.state.ctx, uow, demo=True)


async def test_seeding_twice_posts_the_opening_balances_once(bank: Bank) -> None:
    before = await _demo_balances(bank)

    await _reseed(bank)

    assert await _demo_balances(bank) == before


async def test_seeding_over_a_journal_without_outcomes_posts_nothing_again(bank: Bank) -> None:
    runtime = bank.app.state.runtime
    before = await _demo_balances(bank)
    async with runtime.db.write() as session, session.begin():
        await session.execute(delete(store.CommandOutcome).where(store.CommandOutcome.reference.like("seed:%")))

    await _reseed(bank)

    assert await _demo_balances(bank) == before
    async with runtime.db.read() as session:
        entries = await session.scalar(
            select(func.count()).select_from(store.JournalEntry).where(store.JournalEntry.reference.like("seed:%"))
        )
    assert entries == sum(1 for user in DEMO_CUSTOMERS for acc in user.accounts if acc.opening_minor)
