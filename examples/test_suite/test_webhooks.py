"""Webhooks: the bank POSTs each event to your backend, signed. `sandbank_webhooks` is a
receiver on this machine registered as `sandbank_customer`'s endpoint; it checks every
delivery's signature with the endpoint's secret and `expect` waits for an event (or fails
the test saying what did arrive). `sandbank.webhooks()` is the operator's endpoint,
which hears every customer's events, as a partner's backend would."""

from __future__ import annotations

from wallet import Wallet

from sandbank_testing import Customer, Sandbank, WebhookReceiver


def test_the_payer_hears_that_the_payment_went_through(
    wallet: Wallet, sandbank_customer: Customer, friend: Customer, sandbank_webhooks: WebhookReceiver
) -> None:
    outcome = wallet.pay(sandbank_customer.checking, friend.checking, "12.50")

    event = sandbank_webhooks.expect(
        "payment_sent", within=10, where=lambda e: e["data"]["payment_id"] == outcome.payment_id
    )

    assert (event["data"]["amount"], event["data"]["currency"]) == ("12.50", "CNY")


def test_a_refused_payment_is_announced_with_its_reason(
    wallet: Wallet, sandbank_customer: Customer, friend: Customer, sandbank_webhooks: WebhookReceiver
) -> None:
    outcome = wallet.pay(sandbank_customer.checking, friend.checking, "666.66")  # refused by the risk check

    event = sandbank_webhooks.expect("payment_failed", where=lambda e: e["data"]["payment_id"] == outcome.payment_id)

    assert event["data"]["reason"] == "risk_rejected"
    assert not [e for e in sandbank_webhooks.events if e["type"] == "payment_sent"]


def test_a_partners_backend_hears_every_customers_events(
    sandbank: Sandbank, wallet: Wallet, sandbank_customer: Customer, friend: Customer
) -> None:
    with sandbank.webhooks(events=["payment_received"]) as partner:  # the operator's endpoint
        outcome = wallet.pay(sandbank_customer.checking, friend.checking, "3.00")

        event = partner.expect("payment_received", where=lambda e: e["data"]["payment_id"] == outcome.payment_id)

    assert (event["data"]["customer_id"], event["data"]["payee_account_id"]) == (friend.customer_id, friend.checking)
