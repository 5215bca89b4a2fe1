"""The accounts package's own rule: a test frees the holds it placed before the ledger
check runs, so nothing it leaves behind can look like a stuck saga to later tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.harness import Bank


@pytest.fixture(autouse=True)
async def holds_released_after_each_test(bank: Bank) -> AsyncIterator[None]:
    bank.reserved.clear()
    yield
    await bank.release_reserved()
