"""insurance and accounts in-process on the integration package's broker (one per
backend), each with a database of its own: SQLite files, or on PostgreSQL insurance's
tables in a schema of their own (its outbox, inbox and dead-letter tables would collide
with accounts' otherwise). insurance asks accounts whose an account is through accounts'
ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.insurance.main import create_app
from services.insurance.settings import InsuranceSettings, Settings
from shared.events.topics import INSURANCE_EVENTS
from tests.integration.conftest import beside_the_bank, database_of, group_suffix, serving, settings_for
from tests.integration.harness import Bank, eventually
from tests.integration.insurance.harness import Insurer
from tests.integration.pg import of_this_worker

PG_SCHEMA = of_this_worker("insurance_tests")
# Short enough that the timeout tests move the sandbox clock rather than wait; long
# enough that a consumer group join never makes a purchase give up.
# The fraud rules for early and frequent claims are off: every scenario claims on a policy
# it has just bought (test_claims.py's fraud scenarios turn them on for themselves).
KNOBS = InsuranceSettings(
    step_timeout_s=5.0, max_attempts=3, sweep_every_s=0.1, fraud_early_claim_days=0, fraud_frequent_claims=0
)


@pytest.fixture(scope="package")
async def insurer(
    backend: str, bootstrap_servers: str, bank: Bank, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Insurer]:
    url = await database_of("insurance", backend, tmp_path_factory.mktemp("insurance-sqlite"), PG_SCHEMA)
    settings = settings_for(
        "insurance", url, bootstrap_servers, pg_schema=PG_SCHEMA if backend != "sqlite" else None, cls=Settings
    ).model_copy(update={"insurance": KNOBS})
    app = await beside_the_bank(create_app, settings, bank, group_suffix(backend))
    async with serving(app, [INSURANCE_EVENTS]) as (http, tap):
        yield Insurer(backend, app, http, bank, tap)


@pytest.fixture(autouse=True)
async def every_saga_ends_and_no_hold_outlives_it(insurer: Insurer) -> AsyncIterator[None]:
    """After every scenario, every saga has ended, no account the test touched keeps an
    active hold, and the sandbox clock is back where the scenario found it."""
    insurer.involved.clear()
    offset = insurer.ctx.clock.offset
    yield

    async def all_ended() -> bool:
        return not await insurer.unfinished_sagas()

    await eventually(all_ended, "every saga to end")
    insurer.ctx.clock.offset = offset
    held = {a: h for a, (_, h) in zip(insurer.involved, await insurer.bank.balances(*insurer.involved), strict=True)}
    assert not any(held.values()), held
