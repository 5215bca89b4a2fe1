"""The sagas' unhappy endings: a step nobody answers gives up cleanly, and a payout
accounts refuses is recorded without pretending the claim was paid."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import accounts as acc
from tests.integration.harness import eventually
from tests.integration.insurance.harness import Insurer, actions, types

pytestmark = pytest.mark.broker


async def test_a_reservation_nobody_answers_is_released_and_the_purchase_fails(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who)
    timeouts = insurer.ctx.premiums.timeouts
    # Every message insurance sends is lost on the way, its ReserveFunds each time too.
    await insurer.faults("drop")
    try:
        r = await insurer.purchase(who, quote["id"])
        assert r.status_code == 202, r.text
        policy_id = r.json()["id"]

        async def releasing() -> dict[str, Any] | None:
            insurer.ctx.clock.advance(timeouts.step)  # time passes; nobody answers
            policy = await insurer.policy(who, policy_id)
            return policy if policy["premium_payment"]["step"] == "releasing" else None

        gave_up = await eventually(releasing, "the purchase to give up on its reservation")
    finally:
        dropped = (await insurer.faults("none"))["dropped"]

    assert dropped >= timeouts.max_attempts  # the reservation, sent until its last attempt
    assert gave_up["status"] == "pending"  # nothing is decided until the hold is released
    assert (gave_up["premium_payment"]["reason"], gave_up["premium_payment"]["detail"]) == (
        "timeout",
        f"accounts did not answer {timeouts.max_attempts} times",
    )

    async def failed() -> dict[str, Any] | None:
        insurer.ctx.clock.advance(timeouts.step)  # the release is sent until accounts answers
        policy = await insurer.policy(who, policy_id)
        return policy if policy["status"] != "pending" else None

    ended = await eventually(failed, "the release to be answered")
    assert (ended["status"], ended["failure_reason"]) == ("failed", "timeout")
    assert ended["premium_payment"]["step"] == "failed"
    assert actions(ended) == ["purchase_requested", "purchase_failed"]
    assert (await insurer.http.get(f"/v1/insurance/quotes/{quote['id']}", headers=who.headers)).json()[
        "policy_id"
    ] is None
    # The release left a tombstone: a reservation that turns up now takes nothing.
    late = await insurer.bank.command(
        acc.ReserveFunds(
            account_id=who.account_id, hold_id=ended["premium_payment"]["id"], amount_minor=ended["premium_minor"]
        ),
        source="insurance",
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
