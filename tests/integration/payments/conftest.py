"""payments and accounts in-process on the integration package's broker (one per backend),
each with a database of its own: SQLite files, or on PostgreSQL the accounts tables in the
test database's default schema and payments' in a schema of their own (their outbox, inbox
and dead-letter tables would collide otherwise). payments asks accounts for payers and
payees through accounts' ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.payments.main import create_app
from services.payments.settings import Settings
from shared.events.topics import PAYMENTS_EVENTS
from tests.integration.conftest import beside_the_bank, database_of, group_suffix, serving, settings_for
from tests.integration.harness import Bank
from tests.integration.payments.harness import Payments
from tests.integration.pg import of_this_worker

PG_SCHEMA = of_this_worker("payments_tests")
STEP_UP_OFF = 10**12


@pytest.fixture(scope="package")
async def payments(
    backend: str, bootstrap_servers: str, bank: Bank, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Payments]:
    url = await database_of("payments", backend, tmp_path_factory.mktemp("payments-sqlite"), PG_SCHEMA)
    settings = settings_for(
        "payments", url, bootstrap_servers, pg_schema=PG_SCHEMA if backend != "sqlite" else None, cls=Settings
    )
    # Step-up off, as the e2e stack has it: these tests play the gateway, which would have
    # asked for a code; test_step_up.py turns it on for its own scenarios.
    settings.auth.stepup_amount_minor = settings.auth.stepup_new_payee_minor = STEP_UP_OFF
    app = await beside_the_bank(create_app, settings, bank, group_suffix(backend))
    async with serving(app, [PAYMENTS_EVENTS]) as (http, tap):
        yield Payments(backend, app, http, bank, tap)


@pytest.fixture(autouse=True)
async def every_saga_ends_and_releases(payments: Payments) -> AsyncIterator[None]:
    """After every scenario, no saga is left unfinished and no account the test touched
    keeps an active hold."""
    payments.involved.clear()
    yield
    summary = await payments.summary()
    assert summary["non_terminal"] == 0, summary
    balances = await payments.bank.balances(*payments.involved)
    held = {account: h for account, (_, h) in zip(payments.involved, balances, strict=True) if h}
    assert not held, held
