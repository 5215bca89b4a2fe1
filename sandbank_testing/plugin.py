"""The pytest plugin installing Sandbank registers (`pytest11` in pyproject.toml).

Fixtures, each doing its work only when a test asks for it:

- `sandbank` (session): a Sandbank of this process's own, started with `sandbank up
  --port 0 --json` and stopped after the last test (under pytest-xdist, one per worker:
  its data dir named by the worker); or the one at `--sandbank-url` / SANDBANK_URL, left
  running, whose clock, faults and reset are refused unless `--sandbank-exclusive` /
  SANDBANK_EXCLUSIVE=1 says this suite has it to itself (docs/adr/0014);
- `sandbank_customer`: a new customer with a checking account holding 1,000.00;
- `sandbank_investor`: one with 10,000.00 in checking and 5,000.00 in securities cash;
- `sandbank_policyholder`: one with 1,000.00 in checking and an active personal
  accident policy paid from it;
- `sandbank_client`: `sandbank_customer`'s authenticated httpx client of the gateway;
- `sandbank_webhooks`: a receiver of `sandbank_customer`'s webhooks, each delivery's
  signature checked, with `expect(event_type, within=10, where=...)`.

Names carry the `sandbank` prefix so they never shadow a suite's own `customer` or `client`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from sandbank_testing.bank import Customer, Sandbank
from sandbank_testing.basics import SandbankError
from sandbank_testing.webhooks import WebhookReceiver

TRUE = ("1", "true", "yes", "on")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sandbank", "Sandbank, the bank a suite tests its app against")
    group.addoption(
        "--sandbank-url",
        default=None,
        help="use the Sandbank whose gateway is here instead of starting one (else SANDBANK_URL)",
    )
    group.addoption(
        "--sandbank-exclusive",
        action="store_true",
        default=None,
        help="the Sandbank at --sandbank-url is this suite's alone: allow its clock, faults and reset "
        "(else SANDBANK_EXCLUSIVE=1)",
    )


@pytest.fixture(scope="session")
def sandbank(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbank]:
    """A running Sandbank for the whole session: its clock, faults, reset and new customers."""
    url = request.config.getoption("sandbank_url") or os.environ.get("SANDBANK_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1 ... under pytest-xdist
    if url:
        exclusive = bool(request.config.getoption("sandbank_exclusive"))
        exclusive = exclusive or os.environ.get("SANDBANK_EXCLUSIVE", "").lower() in TRUE
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if exclusive and workers > 1:
            raise SandbankError(
                f"--sandbank-exclusive, but {workers} pytest-xdist workers share the Sandbank at {url}: "
                "leave SANDBANK_URL unset so that each worker starts its own, or run without -n"
            )
        bank = Sandbank.attach(url, exclusive=exclusive)
        try:
            yield bank
        finally:
            bank.close()
        return
    timeout_s = float(os.environ.get("SANDBANK_START_TIMEOUT", "120"))
    bank = Sandbank.start(tmp_path_factory.mktemp(f"sandbank-{worker}" if worker else "sandbank"), timeout_s=timeout_s)
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


@pytest.fixture
def sandbank_webhooks(sandbank: Sandbank, sandbank_customer: Customer) -> Iterator[WebhookReceiver]:
    """`sandbank_customer`'s webhooks (every event type) arriving at a local receiver that
    checks each signature: `sandbank_webhooks.expect("payment_sent", within=10)`. The
    endpoint is deleted after the test."""
    with sandbank.webhooks(sandbank_customer) as receiver:
        yield receiver
