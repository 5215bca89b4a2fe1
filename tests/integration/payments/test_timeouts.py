"""A saga step re-sent after its timeout is harmless: accounts answers the re-sent command
with the fact it already produced, the saga ignores the duplicate, and money moves once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.clock import Clock
from shared.events import accounts as acc
from shared.events import payments as ev
from shared.saga.store import SagaSweeper
from tests.integration.harness import eventually
from tests.integration.payments.harness import Payments, types

pytestmark = pytest.mark.broker


async def test_a_step_resent_after_its_timeout_moves_the_money_once(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    sweeper: SagaSweeper = payments.app.state.sweeper
    # The sweeper as it would run an hour later, when every pending step is overdue.
    later = SagaSweeper(sweeper.db, sweeper.unit_of_work, Clock(offset=timedelta(hours=1)), sweeper.tables)

    started = await payments.start("transfers", payer, {"payee_account_id": payee.account_id, "amount": "25.00"})
    resent = await later.sweep()
    done = await payments.settled(payer, started["id"])

    assert resent >= 1  # this saga, and any other one still pending in the shared database
    assert done["status"] == "completed", done
    story = await payments.story(started["id"])
    retried = [e for e in story if e.type == ev.PaymentStepRetried.TYPE]
    assert [e.data["attempt"] for e in retried] == [2]
    assert types(story).count(ev.PaymentCompleted.TYPE) == 1
    # Risk approved it: the step re-sent is the payment, its hold and capture in one command.
    assert retried[0].data["stage"] == "paying"

    def captures() -> list[str]:
        return [
            s.envelope.data["entry_id"]
            for s in payments.bank.tap.seen
            if s.envelope is not None
            and s.envelope.type == acc.HoldCaptured.TYPE
            and s.envelope.data.get("hold_id") == started["id"]
        ]

    # The re-sent command was answered again, with the same capture: one journal entry.
    await eventually(lambda: len(captures()) == 2, "a second HoldCaptured")
    assert len(set(captures())) == 1
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(75_00, 0), (25_00, 0)]
