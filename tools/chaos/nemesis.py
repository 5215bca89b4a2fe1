"""The nemesis: one fault at a time on a seeded schedule, each logged with when it began
and when the stack had recovered from it.

    kill      SIGKILL one of gateway, accounts, payments, securities, insurance; the
              supervisor restarts it (the fault ends when it answers /readyz again)
    stop      SIGSTOP one of them, SIGCONT after a few seconds
    broker    SIGKILL the embedded broker (Tansu); the supervisor restarts it
    drop, duplicate, delay
              the sandbox's fault on one process's outgoing messages for a few seconds
              (POST /v1/sandbox/faults)
    clock     move the sandbox clock forward (POST /v1/sandbox/clock)
    restart   Ctrl-C the whole `sandbank run` and start it again on the same data dir
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from shared.aio import within
from tools.chaos.target import SERVICES, Operator, Target
from tools.stack import RESTART_LIMIT, RESTART_WINDOW_S

RECOVERY_TIMEOUT_S = 90.0
# How often each kind is drawn relative to the others: a full restart takes the whole
# stack away for half a minute on two cores, so it comes less often than the rest.
WEIGHTS = {"restart": 0.2}


@dataclass
class Fault:
    kind: str
    target: str
    started_at: float  # seconds since the run started
    ended_at: float | None = None
    detail: str = ""
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Schedule:
    """When and what: a gap between faults, and how long a timed fault lasts."""

    kinds: tuple[str, ...]
    gap_s: tuple[float, float]
    duration_s: tuple[float, float]
    seed: int


class Nemesis:
    def __init__(self, target: Target, operator: Operator, schedule: Schedule, clock: Callable[[], float]) -> None:
        self.target = target
        self.operator = operator
        self.schedule = schedule
        self.rng = random.Random(schedule.seed)
        self.clock = clock
        self.faults: list[Fault] = []
        self.current: Fault | None = None
        self.running = True
        self.clock_offset_s = 0.0
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while self.running:
            await self._sleep(self.rng.uniform(*self.schedule.gap_s))
            if not self.running:
                break
            kinds = self.schedule.kinds
            if "broker" in kinds and len(kinds) > 1 and not self._may_kill("broker"):
                kinds = tuple(k for k in kinds if k != "broker")
            kind = self.rng.choices(kinds, weights=[WEIGHTS.get(k, 1.0) for k in kinds])[0]
            fault = Fault(kind, "", self.clock())
            self.current = fault
            try:
                await getattr(self, f"_{kind}")(fault)
            except Exception as e:
                fault.error = f"{type(e).__name__}: {e}"
            fault.ended_at = self.clock()
            self.faults.append(fault)
            self.current = None

    def stop(self) -> None:
        """No fault after the one in progress."""
        self.running = False
        self._stopping.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await within(self._stopping.wait(), seconds)

    def _duration(self) -> float:
        return round(self.rng.uniform(*self.schedule.duration_s), 1)

    # -- the faults --------------------------------------------------------------------------

    async def _kill(self, fault: Fault) -> None:
        fault.target = self.rng.choice([s for s in SERVICES if self._may_kill(s)] or list(SERVICES))
        await self._kill_and_wait(fault, fault.target)

    async def _broker(self, fault: Fault) -> None:
        fault.target = "broker"
        await self._kill_and_wait(fault, "broker")

    def _may_kill(self, name: str) -> bool:
        """Whether killing `name` now stays a fault the supervisor must recover from: the
        supervisor stops the stack when one process dies RESTART_LIMIT times within
        RESTART_WINDOW_S (a process that keeps dying), and a nemesis that kills that often
        would test that rule, not recovery (tests/e2e/test_run_supervisor.py does)."""
        since = self.clock() - RESTART_WINDOW_S
        recent = [f for f in self.faults if f.kind in ("kill", "broker") and f.target == name and f.started_at > since]
        return len(recent) < RESTART_LIMIT - 2

    async def _kill_and_wait(self, fault: Fault, name: str) -> None:
        pid = self.target.pid_of(name)
        if pid is None:
            raise RuntimeError(f"run.json names no pid for {name}")
        os.kill(pid, signal.SIGKILL)
        fault.detail = f"SIGKILL pid {pid}"
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            again = self.target.pid_of(name)
            if again not in (None, pid) and (name == "broker" or await self._ready(name)):
                fault.detail += f"; back as pid {again}"
                return
        raise RuntimeError(f"{name} was not back after {RECOVERY_TIMEOUT_S:.0f}s")

    async def _ready(self, name: str) -> bool:
        try:
            r = await self.operator.client.get(f"{self.target.url(name)}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    async def _stop(self, fault: Fault) -> None:
        fault.target = self.rng.choice(SERVICES)
        pid = self.target.pid_of(fault.target)
        if pid is None:
            raise RuntimeError(f"run.json names no pid for {fault.target}")
        seconds = self._duration()
        fault.params = {"duration_s": seconds}
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        fault.detail = f"SIGSTOP pid {pid} for {seconds}s, then SIGCONT"

    async def _message_fault(self, fault: Fault, mode: str) -> None:
        fault.target = self.rng.choice(SERVICES)
        seconds = self._duration()
        spec: dict[str, Any] = {"service": fault.target, "mode": mode, "duration_s": seconds}
        if mode == "delay":
            spec["delay_ms"] = self.rng.choice((200, 500, 1000, 2000))
        fault.params = spec
        r = await self.operator.gateway("POST", "/v1/sandbox/faults", json=spec)
        if r.status_code != 200:
            raise RuntimeError(f"POST /v1/sandbox/faults answered {r.status_code}: {r.text[:200]}")
        await asyncio.sleep(seconds)
        state = await self.operator.gateway(
            "POST", "/v1/sandbox/faults", json={"service": fault.target, "mode": "none"}
        )
        if state.status_code == 200:
            body = state.json()
            fault.detail = (
                f"{mode} on {fault.target} for {seconds}s: dropped {body.get('dropped')}, "
                f"duplicated {body.get('duplicated')}"
            )

    async def _drop(self, fault: Fault) -> None:
        await self._message_fault(fault, "drop")

    async def _duplicate(self, fault: Fault) -> None:
        await self._message_fault(fault, "duplicate")

    async def _delay(self, fault: Fault) -> None:
        await self._message_fault(fault, "delay")

    async def _clock(self, fault: Fault) -> None:
        fault.target = "sandbox clock"
        advance = self.rng.choice((600, 3600, 6 * 3600, 86400))
        fault.params = {"advance_s": advance}
        r = await self.operator.gateway("POST", "/v1/sandbox/clock", json={"advance_s": advance})
        if r.status_code != 200:
            raise RuntimeError(f"POST /v1/sandbox/clock answered {r.status_code}: {r.text[:200]}")
        self.clock_offset_s = float(r.json().get("offset_s", self.clock_offset_s + advance))
        fault.detail = f"clock forward {advance}s (offset now {self.clock_offset_s:.0f}s)"

    async def _restart(self, fault: Fault) -> None:
        fault.target = "stack"
        began = time.monotonic()
        await asyncio.to_thread(self.target.stop)
        stopped = time.monotonic() - began
        await asyncio.to_thread(self.target.start)
        fault.detail = (
            f"SIGINT sandbank run (stopped in {stopped:.1f}s), started again ({time.monotonic() - began:.1f}s in all)"
        )
