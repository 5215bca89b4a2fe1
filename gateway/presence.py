"""Whether a table holds any row a consumer's batch must look for, known without asking on
every batch.

Each batch of notifications looks for the customers' registered devices (sandbox pushes)
and for the webhook endpoints that listen: two queries per batch, on every transfer's
way, though most stacks have no device and no endpoint at all. A `Presence` answers "is
there any?" from memory: this process's own writes say yes at once (`mark`), and the
table is read again every `recheck_s`, so a row another replica writes is found within
that time, and a table emptied (a sandbox reset, the last endpoint removed) lets the
batches skip their queries again. While there is any row, the batches ask as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.sql import Select

from shared.db import Transactional, session_of

# How late a row written by another replica may be seen (its first notifications then
# go without a push or a delivery).
RECHECK_S = 1.0


class Presence:
    def __init__(self, *, recheck_s: float = RECHECK_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.recheck_s = recheck_s
        self.monotonic = monotonic
        self._any = True  # until read: nothing is skipped on a guess
        self._until = float("-inf")
        self._marks = 0

    def mark(self) -> None:
        """This process wrote a row the batches must find (call it once the row commits)."""
        self._marks += 1
        self._any = True

    async def any(self, tx: Transactional, query: Select[Any]) -> bool:
        """Whether the batch must ask: `query` (a `select(exists()...)`) is read in the
        batch's transaction once per `recheck_s`, and a `mark` while it runs wins over a
        read that could not see that row yet. Its session is asked for only then: a batch
        that writes without one (shared.db.WriteTransaction) does not open it to be told
        what is known already."""
        if self.monotonic() < self._until:
            return self._any
        marks = self._marks
        found = bool(await session_of(tx).scalar(query))
        self._until = self.monotonic() + self.recheck_s
        self._any = found or self._marks != marks
        return self._any
