"""Several suites on one running Sandbank (`SANDBANK_URL=http://... pytest -n 2 --dist
each`): every worker attaches to the same stack. What belongs to the whole stack (the
clock, faults, a reset) is refused to each of them before any request; what each makes
(customers, accounts, payments, notifications) no other can see. Skipped when each
worker has a Sandbank of its own (test_isolation.py covers that)."""

from __future__ import annotations

import pytest
from conftest import Peers

from sandbank_testing import Customer, Sandbank, SharedStackError


@pytest.fixture(autouse=True)
def _shared(sandbank: Sandbank) -> None:
    if sandbank.exclusive:
        pytest.skip("a Sandbank of this worker's own: set SANDBANK_URL to share one")


def test_suites_on_one_stack_see_none_of_each_others_customers_and_cannot_move_its_clock(
    sandbank: Sandbank, sandbank_customer: Customer, friend: Customer, peers: Peers
) -> None:
    offset = sandbank.clock.read()["offset_s"]  # reading the clock is always allowed
    with pytest.raises(SharedStackError):
        sandbank.clock.advance(days=1)
    with pytest.raises(SharedStackError):
        sandbank.set_fault("payments", "delay", seconds=60, delay_ms=1)
    with pytest.raises(SharedStackError):
        sandbank.reset()

    paid = sandbank_customer.transfer("10.00", to_account=friend.checking)
    assert sandbank_customer.payment(paid["id"])["status"] == "completed"
    mine = {"payment_id": paid["id"], "accounts": [sandbank_customer.checking, friend.checking]}
    peers.publish("shared", {"gateway_url": sandbank.gateway_url, **mine})
    others = peers.wait("shared")

    for other in others.values():
        assert other["gateway_url"] == sandbank.gateway_url, "one stack for every suite"
        assert sandbank_customer.client.get(f"/v1/payments/{other['payment_id']}").status_code == 404
        for account in other["accounts"]:
            assert sandbank_customer.client.get(f"/v1/accounts/{account}").status_code == 404
    listed = sandbank_customer.client.get("/v1/payments").json()["items"]
    assert [p["id"] for p in listed] == [paid["id"]], "only this suite's customer's own payment"
    assert sandbank_customer.balance() == 990_00 and friend.balance() == 10_00
    assert abs(sandbank.clock.read()["offset_s"] - offset) < 1, "nobody moved the shared clock"
    assert not [f for f in sandbank.faults() if f["mode"] != "none"], "nor set a fault on it"
