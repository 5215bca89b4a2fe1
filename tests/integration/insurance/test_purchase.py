"""Quotes and the premium saga: a policy is active only once its premium is captured into
internal:insurance-premiums; a refused or expired purchase leaves no cover and takes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.insurance import handlers
from shared.events import accounts as acc
from shared.events.topics import ACCOUNTS_COMMANDS
from tests.integration.insurance.harness import PREMIUMS, Insurer, actions, types

pytestmark = pytest.mark.broker


async def test_a_bought_policy_is_active_once_its_premium_is_in_the_premium_account(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    premiums_before = await insurer.balance(PREMIUMS)
    quote = await insurer.quote(who, "personal_accident", age=30, term_days=365, sum_insured="100000.00")
    assert (quote["premium"], quote["premium_minor"], quote["policy_id"]) == ("60.00", 60_00, None)

    r = await insurer.purchase(who, quote["id"])

    assert r.status_code == 202, r.text
    pending = r.json()
    assert pending["status"] == "pending" and pending["starts_on"] is None
    assert r.headers["location"] == f"/v1/insurance/policies/{pending['id']}"
    policy = await insurer.settled_policy(who, pending["id"])
    assert policy["status"] == "active"
    assert policy["number"].startswith("PA-")
    assert (policy["sum_insured"], policy["remaining_sum_insured"], policy["premium"]) == ("100000.00",) * 2 + (
        "60.00",
    )
    assert policy["starts_on"] == policy["covered_from"]  # personal accident has no waiting period
    assert policy["premium_payment"]["step"] == "done"
    assert actions(policy) == ["purchase_requested", "premium_reserved", "issued"]
    assert [h["actor_role"] for h in policy["history"]] == ["customer", "system", "system"]
    assert all(h["event_id"] for h in policy["history"])
    assert await insurer.bank.balances(who.account_id) == [(940_00, 0)]
    assert await insurer.balance(PREMIUMS) == premiums_before + 60_00

    story = await insurer.story(policy["id"], "insurance.PolicyIssued")
    assert types(story) == ["PolicyPurchaseRequested", "PremiumReserved", "PolicyIssued"]
    assert [e.id for e in story] == [h["event_id"] for h in policy["history"]]
    assert story[-1].data["starts_on"] == policy["starts_on"]
    listed = (await insurer.http.get("/v1/insurance/policies", headers=who.headers)).json()["items"]
    assert [p["id"] for p in listed] == [policy["id"]]


async def test_a_repeated_idempotency_key_returns_the_first_purchase_and_charges_once(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who, "travel", term_days=7, sum_insured="300000.00")
    key = str(uuid.uuid4())

    first = await insurer.purchase(who, quote["id"], key=key)
    again = await insurer.purchase(who, quote["id"], key=key)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    policy = await insurer.settled_policy(who, first.json()["id"])
    assert policy["status"] == "active"
    assert (await insurer.purchase(who, quote["id"], key=key)).json()["status"] == "active"
    assert await insurer.bank.balances(who.account_id) == [(1_000_00 - 60_00, 0)]
    r = await insurer.http.get("/v1/insurance/policies", headers=who.headers)
    assert len(r.json()["items"]) == 1


async def test_the_same_key_for_another_purchase_is_refused(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    key = str(uuid.uuid4())
    first = await insurer.purchase(who, (await insurer.quote(who))["id"], key=key)
    assert first.status_code == 202
    await insurer.settled_policy(who, first.json()["id"])

    r = await insurer.purchase(who, (await insurer.quote(who))["id"], key=key)

    assert r.status_code == 422
    assert r.json()["type"].endswith("/idempotency-key-reused")


async def test_a_purchase_without_an_idempotency_key_is_refused(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who)
    r = await insurer.http.post(
        "/v1/insurance/policies", json={"quote_id": quote["id"], "account_id": who.account_id}, headers=who.headers
    )
    assert r.status_code == 400
    assert r.json()["type"].endswith("/idempotency-key-missing")


async def test_a_refused_premium_leaves_no_cover_and_the_quote_can_be_bought_again(insurer: Insurer) -> None:
    who = await insurer.customer(10_00)
    quote = await insurer.quote(who, "phone_screen", term_days=365, sum_insured="3000.00")  # 360.00

    r = await insurer.purchase(who, quote["id"])

    failed = await insurer.settled_policy(who, r.json()["id"])
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == "insufficient_funds" and failed["failure_detail"]
    assert failed["starts_on"] is None
    assert actions(failed) == ["purchase_requested", "purchase_failed"]
    assert await insurer.bank.balances(who.account_id) == [(10_00, 0)]
    story = await insurer.story(failed["id"], "insurance.PolicyPurchaseFailed")
    assert types(story) == ["PolicyPurchaseRequested", "PolicyPurchaseFailed"]
    assert story[-1].data["reason"] == "insufficient_funds"
    active = await insurer.http.get("/v1/insurance/policies", params={"status": "active"}, headers=who.headers)
    assert active.json()["items"] == []
    document = await insurer.http.get(f"/v1/insurance/policies/{failed['id']}/document", headers=who.headers)
    assert document.status_code == 409 and document.json()["type"].endswith("/policy-not-issued")  # no cover

    await insurer.bank.fund(who.account_id, 400_00)
    retry = await insurer.purchase(who, quote["id"])
    assert (await insurer.settled_policy(who, retry.json()["id"]))["status"] == "active"
    assert await insurer.bank.balances(who.account_id) == [(410_00 - 360_00, 0)]


async def test_a_quote_buys_one_policy(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who)
    first = await insurer.purchase(who, quote["id"])
    assert first.status_code == 202

    r = await insurer.purchase(who, quote["id"])

    assert r.status_code == 409
    assert r.json()["type"].endswith("/quote-used")
    await insurer.settled_policy(who, first.json()["id"])
    assert await insurer.bank.balances(who.account_id) == [(1_000_00 - 60_00, 0)]


async def test_an_expired_quote_buys_nothing(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who)
    insurer.ctx.clock.advance(timedelta(minutes=15))

    r = await insurer.purchase(who, quote["id"])

    assert r.status_code == 422
    assert r.json()["type"].endswith("/quote-expired")
    assert (await insurer.http.get("/v1/insurance/policies", headers=who.headers)).json()["items"] == []
    assert await insurer.bank.balances(who.account_id) == [(1_000_00, 0)]


@pytest.mark.parametrize("whose", ["another customer's", "an internal", "a missing"])
async def test_paying_with_an_account_that_is_not_yours_is_not_found(insurer: Insurer, whose: str) -> None:
    who, other = await insurer.customer(1_000_00), await insurer.customer(1_000_00)
    account = {
        "another customer's": other.account_id,
        "an internal": PREMIUMS,
        "a missing": str(uuid.uuid4()),
    }[whose]
    quote = await insurer.quote(who)

    r = await insurer.purchase(who, quote["id"], account_id=account)

    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await insurer.http.get("/v1/insurance/policies", headers=who.headers)).json()["items"] == []
    assert await insurer.bank.balances(other.account_id, who.account_id) == [(1_000_00, 0), (1_000_00, 0)]
    assert (await insurer.http.get(f"/v1/insurance/quotes/{quote['id']}", headers=who.headers)).json()[
        "policy_id"
    ] is None


async def test_another_customers_quote_is_not_found(insurer: Insurer) -> None:
    who, other = await insurer.customer(1_000_00), await insurer.customer(1_000_00)
    r = await insurer.purchase(who, (await insurer.quote(other))["id"])
    assert r.status_code == 404
    assert await insurer.bank.balances(who.account_id) == [(1_000_00, 0)]


async def test_premiums_are_not_paid_from_a_securities_account(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    securities = await insurer.bank.open_account(who.customer, "securities_cash")
    r = await insurer.purchase(who, (await insurer.quote(who))["id"], account_id=securities)
    assert r.status_code == 422
    assert r.json()["type"].endswith("/unsuitable-account")


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"product_code": "pet_insurance"}, 404, "not-found"),
        ({"age": 17}, 422, "age-out-of-range"),
        ({"age": 66}, 422, "age-out-of-range"),
        ({"age": -1}, 422, "validation-error"),
        ({"term_days": 31}, 422, "term-not-offered"),
        ({"sum_insured": "15000.00"}, 422, "sum-insured-out-of-range"),
        ({"sum_insured": "0"}, 422, "invalid-amount"),
        ({"sum_insured": "100000.001"}, 422, "invalid-amount"),
        ({"currency": "USD"}, 422, "validation-error"),
        ({"surprise": 1}, 422, "validation-error"),
    ],
)
async def test_a_quote_that_cannot_be_priced_is_refused(
    insurer: Insurer, body: dict[str, object], status: int, slug: str
) -> None:
    who = await insurer.customer(0)
    quote = {"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"} | body
    r = await insurer.http.post("/v1/insurance/quotes", json=quote, headers=who.headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + slug)


async def test_the_catalogue_is_public(insurer: Insurer) -> None:
    r = await insurer.http.get("/v1/insurance/products")
    assert r.status_code == 200
    products = {p["code"]: p for p in r.json()["items"]}
    assert set(products) == {"personal_accident", "short_term_health", "travel", "phone_screen"}
    assert products["short_term_health"]["waiting_days"] == 30
    assert (await insurer.http.get("/v1/insurance/products/travel")).json()["terms"][0] == {"days": 7, "factor_pct": 5}
    assert (await insurer.http.get("/v1/insurance/products/nope")).status_code == 404


async def test_a_lost_reservation_is_sent_again_after_its_timeout(insurer: Insurer) -> None:
    """A premium step that hears nothing (here: its command never left the outbox) is
    re-sent once its timeout passes, and the purchase completes as if nothing happened."""
    who = await insurer.customer(1_000_00)
    quote = await insurer.quote(who)
    async with insurer.app.state.runtime.unit_of_work() as uow:
        policy, _ = await handlers.purchase_policy(
            insurer.ctx,
            uow,
            customer_id=who.id,
            quote_id=quote["id"],
            account=handlers.PayingAccount(who.account_id, "checking", "CNY"),
            idempotency_key=str(uuid.uuid4()),
        )
        # Lose the ReserveFunds: take it out of the outbox before the transaction commits.
        lost = [m for m in uow._outbox if m["topic"] == ACCOUNTS_COMMANDS]
        assert len(lost) == 1
        uow._outbox.remove(lost[0])
    hold_id = f"ins-premium-{policy.id}"
    await insurer.bank.barrier(who.account_id)
    assert (await insurer.policy(who, policy.id))["status"] == "pending"
    assert await insurer.bank.balances(who.account_id) == [(1_000_00, 0)]

    insurer.ctx.clock.advance(insurer.ctx.premiums.timeouts.step)

    active = await insurer.settled_policy(who, policy.id)
    assert active["status"] == "active"
    assert active["premium_payment"] == {
        "id": hold_id,
        "step": "done",
        "attempts": 1,  # the capture, sent once
        "reason": None,
        "detail": None,
        "entry_id": active["premium_payment"]["entry_id"],
    }
    await insurer.bank.tap.wait_for(
        lambda s: (
            s.envelope is not None
            and s.envelope.data.get("hold_id") == hold_id
            and s.envelope.type == acc.HoldCaptured.TYPE
        ),
        what="the premium's capture",
    )
    facts = [s.envelope.type for s in insurer.bank.tap.seen if s.envelope and s.envelope.data.get("hold_id") == hold_id]
    assert facts == [acc.FundsReserved.TYPE, acc.HoldCaptured.TYPE]
    assert await insurer.bank.balances(who.account_id) == [(940_00, 0)]
