"""Runtime.stop: every step has a deadline, so a process always gets to exit; tasks handed
to the runtime are finished, cancelled or reported, never lost."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from shared.aio import within
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.messaging import messaging_tables
from shared.kafka.relay import OutboxRelay
from shared.migrations import Migrations
from shared.runtime import Runtime
from shared.settings import AuthSettings, DbSettings, Settings

metadata = MetaData()
tables = messaging_tables(metadata)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(
        service="tests",
        environment="sandbox",
        db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}"),
        auth=AuthSettings(),
    )
    runtime = Runtime(settings, metadata=metadata, migrations=Migrations(metadata, tmp_path), tables=tables)
    runtime.stop_step_s = 0.05
    yield runtime
    await runtime.db.dispose()


class Stubborn:
    """Work that ignores cancellation, as a misbehaving library call might, until the
    test lets it go (a task that never ends would hold the event loop's own shutdown)."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def __call__(self) -> None:
        while not self.released.is_set():
            try:
                await self.released.wait()
            except asyncio.CancelledError:
                continue


async def test_an_owned_task_past_the_deadline_is_cancelled(runtime: Runtime) -> None:
    task = runtime.own(asyncio.sleep(3600), name="endless")

    await runtime.stop()

    assert task.cancelled()


async def test_an_owned_task_that_ends_in_time_is_left_to_finish(runtime: Runtime) -> None:
    finished = asyncio.Event()

    async def short() -> None:
        await asyncio.sleep(0)
        finished.set()

    task = runtime.own(short())
    await runtime.stop()

    assert finished.is_set() and not task.cancelled()


async def test_a_closer_that_ignores_its_cancellation_does_not_hold_the_stop(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    stubborn = Stubborn()

    async def record() -> None:
        ran.append("first registered")

    runtime.on_stop("first registered", record)
    runtime.on_stop("stubborn", stubborn)

    with caplog.at_level(logging.WARNING, logger="shared.runtime"):
        await runtime.stop()
    stubborn.released.set()

    assert ran == ["first registered"]  # closers run newest first; a stuck one is passed by
    assert any("stubborn ignored its cancellation" in r.getMessage() for r in caplog.records)


async def test_an_owned_task_that_fails_is_logged(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("the writer broke")

    with caplog.at_level(logging.ERROR, logger="shared.runtime"):
        task = runtime.own(fails(), name="writer")
        await asyncio.wait([task])

    [record] = [r for r in caplog.records if "writer failed" in r.getMessage()]
    assert record.exc_info is not None and "the writer broke" in str(record.exc_info[1])
    await runtime.stop()


class _GroupWithoutCoordinator:
    """An aiokafka consumer whose offset commit never completes (the group lost its
    coordinator: aiokafka retries until it finds one)."""

    def __init__(self) -> None:
        self.stopped = False

    async def commit(self, offsets: object) -> None:
        await asyncio.sleep(3600)

    async def stop(self) -> None:
        self.stopped = True


async def test_a_consumer_stops_even_when_its_last_commit_cannot_complete(runtime: Runtime) -> None:
    loop = ConsumerLoop(
        name="tests",
        db=runtime.db,
        tables=tables,
        bootstrap_servers="127.0.0.1:1",
        topics=["tests.events"],
        handlers={},
        source="tests",
        keys=runtime.keys,
        commit_timeout_s=0.05,
    )
    group = _GroupWithoutCoordinator()
    loop.consumer = group  # type: ignore[assignment]
    loop._uncommitted = {("tests.events", 0): 7}

    await asyncio.wait_for(loop.stop(), 5)

    assert group.stopped


async def test_a_process_whose_stop_left_work_behind_still_exits(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    exited = threading.Event()
    monkeypatch.setattr(os, "_exit", lambda code: exited.set())
    runtime.exit_when_stuck = True
    stubborn = Stubborn()
    runtime.on_stop("stubborn", stubborn)

    await runtime.stop()
    try:
        assert await asyncio.to_thread(exited.wait, 10)
    finally:
        stubborn.released.set()


async def test_a_clean_stop_does_not_exit_the_process(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    runtime.exit_when_stuck = True

    await runtime.stop()

    assert [t for t in threading.enumerate() if isinstance(t, threading.Timer)] == [] and exits == []


async def test_the_outbox_relay_ends_when_cancelled_as_a_commit_wakes_it(runtime: Runtime) -> None:
    await runtime.db.create_all(metadata)
    relay = OutboxRelay(runtime.db, tables, runtime.producer)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.05)  # idle: waiting for the next commit

    runtime.db.outbox_written.set()  # a unit of work commits ...
    task.cancel()  # ... in the same turn of the loop as the runtime stops
    await asyncio.wait([task], timeout=5)

    assert task.cancelled()


async def test_within_passes_on_a_cancellation_that_lands_as_the_wait_ends() -> None:
    woken = asyncio.Event()

    async def waits() -> None:
        await within(woken.wait(), 60)
        await asyncio.sleep(3600)  # reached only if the cancellation was lost

    task = asyncio.create_task(waits())
    await asyncio.sleep(0)
    woken.set()
    task.cancel()
    await asyncio.wait([task], timeout=5)

    assert task.cancelled()


async def test_a_loop_that_raises_runs_again_after_a_backoff_that_starts_over_after_a_calm_run(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backoff doubles while the loop keeps failing at once, and starts from its first
    figure again for a failure after a long healthy run (a consumer whose client was
    renewed hours ago does not wait the longest backoff for its next renewal)."""
    import shared.runtime as module

    now = [0.0]
    slept: list[float] = []
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(module.asyncio, "sleep", sleep)
    lasted = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, module.SUPERVISE_CALM_S, 0.0]  # each run, then it raises

    async def run() -> None:
        if not lasted:
            return
        now[0] += lasted.pop(0)
        raise RuntimeError("the client is broken")

    await runtime._supervise("consumer", run)
    first, most = module.SUPERVISE_BACKOFF_S
    assert slept == [first, first * 2, first * 4, first * 8, first * 16, first * 32, most, first, first * 2]


@pytest.mark.parametrize(("session_timeout_ms", "stall_s"), [(2000, 30.0), (10_000, 30.0), (45_000, 135.0)])
def test_a_fetch_may_take_a_rebalance_before_it_counts_as_stalled(
    runtime: Runtime, session_timeout_ms: int, stall_s: float
) -> None:
    """A group waits up to a session timeout for its members: with Kafka's own 45 s, a
    fetch that joins the group is not a stuck client at 30 s."""
    loop = ConsumerLoop(
        name="tests",
        db=runtime.db,
        tables=tables,
        bootstrap_servers="127.0.0.1:1",
        topics=["tests.events"],
        handlers={},
        source="tests",
        keys=runtime.keys,
        session_timeout_ms=session_timeout_ms,
    )
    assert loop.fetch_stall_s == stall_s
