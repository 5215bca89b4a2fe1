"""Each worker moves its bank's clock, sets a fault, makes customers and a payment, and
resets; none of it may show in another worker's bank. Worker N advances the clock N+1
days and delays the messages of its own service, so each can tell its own from another's."""

from __future__ import annotations

import pytest
from conftest import Peers

from sandbank_testing import Customer, Sandbank

FAULTED = ("securities", "insurance", "payments", "accounts")  # worker N's: the Nth


def can_log_in(sandbank: Sandbank, customer: dict[str, str]) -> bool:
    body = {"phone": customer["phone"], "password": customer["password"], "device_id": "sandbank-peer-check"}
    return sandbank.http.post("/v1/auth/login", json=body).status_code == 200


@pytest.fixture(autouse=True)
def _own(sandbank: Sandbank) -> None:
    if not sandbank.exclusive:
        pytest.skip("a Sandbank shared with other suites: test_shared_stack.py covers that")


def test_no_other_suite_reaches_this_ones_bank(
    sandbank: Sandbank, sandbank_customer: Customer, friend: Customer, peers: Peers
) -> None:
    assert sandbank.clock.read()["offset_s"] == 0, "a bank of our own, whose clock nobody moved"
    sandbank.clock.advance(days=peers.index + 1)
    offset = sandbank.clock.read()["offset_s"]
    service = FAULTED[peers.index % len(FAULTED)]
    sandbank.set_fault(service, "delay", seconds=600, delay_ms=1)
    try:
        paid = sandbank_customer.transfer("10.00", to_account=friend.checking)
        assert sandbank_customer.payment(paid["id"])["status"] == "completed"
        customers = [{"phone": c.phone, "password": c.password} for c in (sandbank_customer, friend)]
        peers.publish("made", {"gateway_url": sandbank.gateway_url, "offset_s": offset, "customers": customers})
        others = peers.wait("made")

        def nothing_of_theirs_here() -> None:
            assert abs(sandbank.clock.read()["offset_s"] - offset) < 1
            assert {f["service"]: f["mode"] for f in sandbank.faults() if f["mode"] != "none"} == {service: "delay"}
            assert can_log_in(sandbank, customers[0])
            for other in others.values():
                assert other["gateway_url"] != sandbank.gateway_url
                assert abs(other["offset_s"] - offset) >= 86_400
                assert not [c for c in other["customers"] if can_log_in(sandbank, c)]

        nothing_of_theirs_here()
        # In turn, each after those before it: another's reset leaves our bank as it was.
        peers.wait("reset", [w for w in peers.others if int(w.removeprefix("gw")) < peers.index])
        nothing_of_theirs_here()
        sandbank.reset()
        assert not can_log_in(sandbank, customers[0])
        peers.publish("reset", {})
    finally:
        sandbank.clear_faults(service)
