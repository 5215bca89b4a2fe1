"""What the risk check reads for a batch of payments at once, on either backend: the
velocity rule's count (each payment's own payer's payments in the window before it), and
whether the payer has paid the payee before where the new-payee rule reads it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.payments import domain, store
from tests.integration.payments.harness import Payments

WINDOW = timedelta(seconds=60)
POLICY = domain.RiskPolicy(velocity_window=WINDOW)
START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _payment(customer_id: str, at: datetime, amount_minor: int = 1_00) -> domain.Payment:
    """A payment that ended long ago (nothing for a sweeper or the checks after each test)."""
    return domain.Payment(
        id=str(uuid.uuid4()),
        kind="transfer",
        customer_id=customer_id,
        idempotency_key=str(uuid.uuid4()),
        payer_account_id=f"a-{customer_id}",
        payer_class="II",
        payee_account_id="b",
        payee_customer_id=None,
        payee_key="account:b",
        payee_label="B*b",
        amount_minor=amount_minor,
        currency="CNY",
        step=None,
        attempts=1,
        deadline_at=None,
        outcome="completed",
        created_at=at,
        updated_at=at,
        ended_at=at,
    )


async def test_a_batch_counts_each_payers_payments_in_the_window_before_each_payment(payments: Payments) -> None:
    one, two = (f"risk-{uuid.uuid4().hex[:8]}" for _ in range(2))
    # one: a payment every 10 s for two minutes; two: three at the same instant, one after.
    made = [_payment(one, START + timedelta(seconds=10 * i)) for i in range(13)]
    made += [_payment(two, START + timedelta(seconds=30)) for _ in range(3)]
    made += [_payment(two, START + timedelta(seconds=90))]
    runtime = payments.app.state.runtime
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(store.INSERT, [store.row_of(p) for p in made])
    # Three assessed together (a statement of four, the last repeated), then five (of eight).
    for assessed in ([made[12], made[0], made[14]], [made[6], made[13], made[16], made[15], made[3]]):
        async with runtime.unit_of_work() as uow:
            batch = store.SagaBatch(uow, policy=POLICY, known=store.KnownPayees())
            await batch.load_risk([replace(p) for p in assessed])
            found = {p.id: batch.risk[p.id].recent_payments for p in assessed}
        expected = {
            p.id: sum(
                o.customer_id == p.customer_id and p.created_at - WINDOW <= o.created_at < p.created_at for o in made
            )
            for p in assessed
        }
        assert found == expected
    # The window's start counts, the payment's own instant does not.
    assert expected[made[6].id] == 6 and expected[made[16].id] == 3 and expected[made[15].id] == 0


async def test_a_payment_above_the_new_payee_threshold_finds_the_payee_its_payer_paid_before(
    payments: Payments,
) -> None:
    paid, stranger = (f"risk-{uuid.uuid4().hex[:8]}" for _ in range(2))
    runtime = payments.app.state.runtime
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(store.INSERT, [store.row_of(_payment(paid, START))])
    large = POLICY.new_payee_threshold_minor + 1
    assessed = [_payment(paid, START + WINDOW, large), _payment(stranger, START + WINDOW, large)]
    async with runtime.unit_of_work() as uow:
        batch = store.SagaBatch(uow, policy=POLICY, known=store.KnownPayees())
        await batch.load_risk(assessed)
    assert [batch.risk[p.id].paid_before for p in assessed] == [True, False]
