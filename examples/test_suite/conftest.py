"""What the tests share. The plugin gives `sandbank` (the running bank: clock, faults,
reset, new customers) and funded customers (`sandbank_customer`, `sandbank_investor`,
`sandbank_policyholder`); here they are wired to the app under test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wallet import Wallet

from sandbank_testing import Customer, Sandbank


@pytest.fixture
def wallet(sandbank: Sandbank, sandbank_customer: Customer) -> Iterator[Wallet]:
    """The app, logged in as a customer with 1,000.00 in checking."""
    app = Wallet(sandbank.gateway_url, sandbank_customer.access_token)
    yield app
    app.close()


@pytest.fixture
def friend(sandbank: Sandbank) -> Iterator[Customer]:
    """Someone to pay: a second customer, with an empty checking account."""
    customer = sandbank.new_customer(deposit="")
    yield customer
    customer.close()
