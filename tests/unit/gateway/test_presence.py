"""Whether any row is there, known between reads: this process's writes at once, another
replica's at the next read, an emptied table at the next read too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, true

from gateway.presence import Presence

ANY = select(true())


class Table:
    """A batch's session as a `Presence` asks it, over a table with or without rows."""

    def __init__(self, rows: bool) -> None:
        self.rows = rows
        self.reads = 0
        self.while_read: Any = None

    async def scalar(self, query: Any) -> bool:
        self.reads += 1
        if self.while_read is not None:
            self.while_read()
        return self.rows


async def ask(seen: Presence, table: Table) -> bool:
    return await seen.any(table, ANY)  # type: ignore[arg-type]


def presence(clock: list[float]) -> Presence:
    return Presence(recheck_s=1.0, monotonic=lambda: clock[0])


async def test_the_first_batch_reads_and_the_next_ones_within_the_period_do_not() -> None:
    clock, table = [0.0], Table(rows=False)
    seen = presence(clock)
    assert not await ask(seen, table)
    clock[0] = 0.9
    assert not await ask(seen, table)
    assert table.reads == 1


async def test_a_row_written_elsewhere_is_found_at_the_next_read() -> None:
    clock, table = [0.0], Table(rows=False)
    seen = presence(clock)
    await ask(seen, table)
    table.rows = True
    clock[0] = 1.0
    assert await ask(seen, table)
    assert table.reads == 2


async def test_this_process_s_own_write_counts_at_once() -> None:
    clock, table = [0.0], Table(rows=False)
    seen = presence(clock)
    await ask(seen, table)
    seen.mark()
    assert await ask(seen, table)
    assert table.reads == 1


async def test_a_write_during_a_read_that_could_not_see_it_wins() -> None:
    clock, table = [0.0], Table(rows=False)
    seen = presence(clock)
    table.while_read = seen.mark
    assert await ask(seen, table)
    table.while_read = None
    clock[0] = 0.5
    assert await ask(seen, table)


async def test_an_emptied_table_is_skipped_again_after_the_next_read() -> None:
    clock, table = [0.0], Table(rows=True)
    seen = presence(clock)
    assert await ask(seen, table)
    table.rows = False
    clock[0] = 1.0
    assert not await ask(seen, table)
