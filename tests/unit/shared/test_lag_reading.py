"""/metrics reads each consumer's lag from the broker, but waits for it a bounded time:
past it the scrape shows the last figures read, marked stale, and the reading goes on
behind it for the next scrape (shared/metrics.py)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from shared.metrics import RuntimeCollector


class Consumer:
    """A consumer whose broker answers a lag reading when the test says so."""

    def __init__(self, name: str, lag: int) -> None:
        self.name = name
        self.lag = lag
        self.answering = asyncio.Event()
        self.answering.set()
        self.readings = 0

    async def partition_lag(self) -> dict[tuple[str, int], int]:
        self.readings += 1
        await self.answering.wait()
        return {("accounts.commands", 0): self.lag}


def collector(*consumers: Consumer, wait_s: float = 0.05) -> RuntimeCollector:
    return RuntimeCollector(SimpleNamespace(consumers=list(consumers)), lag_wait_s=wait_s)  # type: ignore[arg-type]


async def test_a_reading_in_time_is_fresh() -> None:
    quick = Consumer("quick", 3)
    c = collector(quick)

    await c.read_lag()

    reader = c.readers["quick"]
    assert c.lag == {"quick": {("accounts.commands", 0): 3}}
    assert not reader.stale and 0 <= reader.age_s < 1


async def test_a_broker_that_does_not_answer_holds_the_scrape_only_its_bound() -> None:
    hung, quick = Consumer("hung", 7), Consumer("quick", 0)
    c = collector(hung, quick)
    await c.read_lag()
    hung.answering.clear()
    hung.lag = 9

    began = time.monotonic()
    await c.read_lag()
    await c.read_lag()

    assert time.monotonic() - began < 1.0
    assert c.readers["hung"].stale and not c.readers["quick"].stale
    assert c.lag["hung"] == {("accounts.commands", 0): 7}, "the last figures read, not none"
    assert hung.readings == 2, "one reading in flight at a time, joined by the next scrape"

    hung.answering.set()
    await c.read_lag()
    assert not c.readers["hung"].stale and c.lag["hung"] == {("accounts.commands", 0): 9}
    c.close()


async def test_a_consumer_never_read_has_no_figures_only_a_stale_mark() -> None:
    hung = Consumer("hung", 1)
    hung.answering.clear()
    c = collector(hung)

    await c.read_lag()

    assert "hung" not in c.lag
    assert c.readers["hung"].stale and c.readers["hung"].age_s == -1
    c.close()
    await asyncio.sleep(0)
