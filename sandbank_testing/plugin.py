"""The pytest plugin installing Sandbank registers (`pytest11` in pyproject.toml).

Fixtures, each doing its work only when a test asks for it:

- `sandbank` (session): a Sandbank started with `sandbank up --port 0 --json` and stopped
  after the last test, or the one at `--sandbank-url` / SANDBANK_URL, left running;
- `sandbank_customer`: a new customer with a checking account holding 1,000.00;
- `sandbank_investor`: one with 10,000.00 in checking and 5,000.00 in securities cash;
- `sandbank_policyholder`: one with 1,000.00 in checking and an active personal
  accident policy paid from it;
- `sandbank_client`: `sandbank_customer`'s authenticated httpx client of the gateway.

Names carry the `sandbank` prefix so they never shadow a suite's own `customer` or `client`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from sandbank_testing.bank import Customer, Sandbank


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sandbank", "Sandbank, the bank a suite tests its app against")
    group.addoption(
        "--sandbank-url",
        default=None,
        help="use the Sandbank whose gateway is here instead of starting one (else SANDBANK_URL)",
    )


@pytest.fixture(scope="session")
def sandbank(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbank]:
    """A running Sandbank for the whole session: its clock, faults, reset and new customers."""
    url = request.config.getoption("sandbank_url") or os.environ.get("SANDBANK_URL")
    if url:
        bank = Sandbank.attach(url)
        try:
            yield bank
        finally:
            bank.close()
        return
    timeout_s = float(os.environ.get("SANDBANK_START_TIMEOUT", "120"))
    bank = Sandbank.start(tmp_path_factory.mktemp("sandbank"), timeout_s=timeout_s)
    try:
        yield bank
    finally:
        bank.stop()


@pytest.fixture
def sandbank_customer(sandbank: Sandbank) -> Iterator[Customer]:
    """A new customer with a checking account (`.checking`) holding 1,000.00."""
    customer = sandbank.new_customer()
    yield customer
    customer.close()


@pytest.fixture
def sandbank_investor(sandbank: Sandbank) -> Iterator[Customer]:
    """A new customer with 10,000.00 in checking and 5,000.00 in securities cash (`.securities`)."""
    customer = sandbank.new_investor()
    yield customer
    customer.close()


@pytest.fixture
def sandbank_policyholder(sandbank: Sandbank) -> Iterator[Customer]:
    """A new customer with 1,000.00 in checking and an active personal accident policy (`.policy`)."""
    customer = sandbank.new_policyholder()
    yield customer
    customer.close()


@pytest.fixture
def sandbank_client(sandbank_customer: Customer) -> httpx.Client:
    """`sandbank_customer`'s client of the gateway, its access token on every request."""
    return sandbank_customer.client
