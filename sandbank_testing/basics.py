"""What the rest of the package shares: its error, durations, bounded waits, and answers
checked for the status they should have."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_S = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


class SandbankError(RuntimeError):
    """The stack could not be started or reached, or refused what was asked of it."""


class SharedStackError(SandbankError):
    """A control that reaches the whole stack (the clock, faults, reset), asked of a stack
    other suites share."""


def parse_duration(text: str) -> float:
    """Seconds in `1d2h`, `90m`, `1.5h`, `45s` or a bare number of seconds."""
    spec = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", spec):
        return float(spec)
    parts = _DURATION.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        raise ValueError(f"not a duration: {text!r} (write it like 1d2h, 90m, 45s)")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def eventually(probe: Callable[[], T | None], timeout_s: float = 10.0, every_s: float = 0.05) -> T:
    """The probe's first truthy answer, polled until `timeout_s`: Sandbank settles money
    through Kafka, a moment after the request that started it is answered."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g}s")
        time.sleep(every_s)


def refused(r: httpx.Response) -> SandbankError:
    try:
        body = r.json()
        detail = f"{body.get('title', '')}: {body.get('detail', '')}" if isinstance(body, dict) else r.text
    except ValueError:
        detail = r.text[:500]
    return SandbankError(f"{r.request.method} {r.request.url.path} answered {r.status_code} {detail}")


def expect(r: httpx.Response, *statuses: int) -> Any:
    if r.status_code not in statuses:
        raise refused(r)
    return r.json()
