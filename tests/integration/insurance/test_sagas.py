"""The sagas' unhappy endings: a step nobody answers gives up cleanly, and a payout
accounts refuses is recorded without pretending the claim was paid."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.insurance import domain, handlers
from services.insurance.handlers import sagas
from shared.events import accounts as acc
from shared.events.topics import ACCOUNTS_COMMANDS
from tests.integration.harness import eventually
from tests.integration.insurance.harness import Insurer, actions, types

pytestmark = pytest.mark.broker


async def test_a_reservation_nobody_answers_is_released_and_the_purchase_fails(
    insurer: Insurer, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who)
    hold_id = ""
    unanswered: list[int] = []
    real_send = sagas.send

    def send_into_the_void(ctx: handlers.Context, uow: Any, saga: Any, action: domain.Action) -> None:
        """Every ReserveFunds of this purchase is lost on the way; other commands travel."""
        if saga.id == hold_id and action == domain.Action.RESERVE:
            unanswered.append(saga.attempts)
            saga.attempts += 1
            saga.next_attempt_at = ctx.clock.now() + ctx.step_timeout
            return
        real_send(ctx, uow, saga, action)

    monkeypatch.setattr(sagas, "send", send_into_the_void)
    async with insurer.app.state.runtime.unit_of_work() as uow:
        policy, _ = await handlers.purchase_policy(
            insurer.ctx,
            uow,
            customer_id=who.id,
            quote_id=quote["id"],
            account=handlers.PayingAccount(who.account_id, "checking", "CNY"),
            idempotency_key=str(uuid.uuid4()),
        )
        hold_id = f"ins-premium-{policy.id}"
        uow._outbox = [m for m in uow._outbox if m["topic"] != ACCOUNTS_COMMANDS]  # the first one is lost too

    async def gave_up() -> dict[str, Any] | None:
        insurer.ctx.clock.advance(insurer.ctx.step_timeout)  # time passes; nobody answers
        policy_now = await insurer.policy(who, policy.id)
        return policy_now if policy_now["status"] != "pending" else None

    failed = await eventually(gave_up, "the purchase to give up")

    assert len(unanswered) == insurer.ctx.max_attempts - 1  # re-sent until the last attempt
    assert (failed["status"], failed["failure_reason"]) == ("failed", "timeout")
    assert failed["premium_payment"]["step"] == "failed"
    assert actions(failed) == ["purchase_requested", "purchase_failed"]
    assert (await insurer.http.get(f"/v1/insurance/quotes/{quote['id']}", headers=who.headers)).json()[
        "policy_id"
    ] is None
    # The release left a tombstone: a reservation that turns up now takes nothing.
    late = await insurer.bank.command(
        acc.ReserveFunds(account_id=who.account_id, hold_id=hold_id, amount_minor=failed["premium_minor"])
    )
    assert late.type == acc.HoldReleased.TYPE
    assert await insurer.bank.balances(who.account_id) == [(1_000_00, 0)]


async def test_a_payout_accounts_refuses_leaves_the_claim_approved_and_unpaid(insurer: Insurer) -> None:
    # A class III account may hold at most 2,000.00: a payout above that is refused.
    who = await insurer.customer(1_500_00, kyc_class="III")
    policy = await insurer.active_policy(who)

    claim = await insurer.file(who, policy, "accidental_injury", "800.00")

    story = await insurer.story(claim["id"], "insurance.ClaimPayoutFailed")
    assert types(story)[-2:] == ["ClaimApproved", "ClaimPayoutFailed"]
    assert story[-1].data["reason"] == "balance_cap_exceeded"
    claim = await insurer.claim(who, claim["id"])
    assert claim["status"] == "approved"
    assert (claim["payout"]["step"], claim["payout"]["reason"]) == ("failed", "balance_cap_exceeded")
    assert actions(claim)[-1] == "payout_failed"
    assert await insurer.balance(who.account_id) == 1_500_00 - 60_00
