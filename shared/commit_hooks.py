"""What may happen only if the current unit of work commits.

A saga's metrics are counted where its row moves (shared/saga/observe.py), inside a unit of
work that can still roll back: a payment whose insert meets a replayed Idempotency-Key, or a
consumer batch that fails and is applied again one message at a time. `after_commit` runs
its callback when the unit of work this task is in commits (never after a rollback), or at
once outside one. It imports no I/O library: the saga model, which may not, calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token

_pending: ContextVar[list[Callable[[], None]] | None] = ContextVar("sandbank_after_commit", default=None)


def after_commit(callback: Callable[[], None]) -> None:
    pending = _pending.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


def collect(callbacks: list[Callable[[], None]]) -> Token[list[Callable[[], None]] | None]:
    """Make `callbacks` (a unit of work's after-commit list) where this task's `after_commit`
    puts its callbacks, until `release`."""
    return _pending.set(callbacks)


def release(token: Token[list[Callable[[], None]] | None]) -> None:
    _pending.reset(token)
