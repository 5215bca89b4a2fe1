"""What a process's `create_app(settings, *, overrides)` builds for itself unless it is
given: tests (and other wirings) pass their own collaborators here instead of patching a
running app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from shared.clock import Clock


@dataclass(frozen=True)
class Overrides:
    # The sandbox clock the process reads (a test moves it by hand).
    clock: Clock | None = None
    # Appended to every consumer group's name: an app under test on a shared broker
    # reads the topics for itself instead of splitting them with a running stack.
    group_suffix: str = ""
    # Where calls to another service go, by service name (tests: that service's ASGI app
    # in the same process, `httpx.ASGITransport(app=...)`).
    transports: Mapping[str, httpx.AsyncBaseTransport] = field(default_factory=dict)
