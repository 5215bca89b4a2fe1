"""A reset puts the bank back to its seed: the customers tests made are gone, the demo
ones are as they were. On a stack a whole session shares, reset between suites (or at
the start of one), not between the tests of a suite that keeps its customers."""

from __future__ import annotations

from sandbank_testing import Customer, Sandbank

DEMO_PHONE, DEMO_PASSWORD = "+8613800000001", "sandbank-demo-1"  # Li Wei, seeded (docs/sandbox.md)


def test_a_reset_forgets_the_customers_tests_made(sandbank: Sandbank, sandbank_customer: Customer) -> None:
    sandbank.reset()

    login = {"phone": sandbank_customer.phone, "password": sandbank_customer.password}
    assert sandbank.http.post("/v1/auth/login", json=login).status_code == 401
    assert sandbank.login(DEMO_PHONE, DEMO_PASSWORD)["access_token"]
