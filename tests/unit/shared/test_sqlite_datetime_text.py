"""UtcDateTime's own processors on SQLite write and read exactly what SQLAlchemy's chain did
(the type's process_bind_param and process_result_value around SQLite's DATETIME): the same
text for every aware datetime, the same datetime for every text, the same errors."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from shared.db import UtcDateTime

SQLITE = sqlite.dialect()
_TYPE = UtcDateTime().dialect_impl(SQLITE)
BIND = _TYPE.bind_processor(SQLITE)
RESULT = _TYPE.result_processor(SQLITE, None)
# SQLAlchemy's own chain for the same type: what was bound and read before.
CHAIN_BIND = TypeDecorator.bind_processor(_TYPE, SQLITE)
CHAIN_RESULT = TypeDecorator.result_processor(_TYPE, SQLITE, None)

ZONES = [
    UTC,
    ZoneInfo("UTC"),
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Asia/Kathmandu"),
    timezone(timedelta(hours=14)),
    timezone(-timedelta(hours=12)),
    timezone(timedelta(hours=5, minutes=30, seconds=15, microseconds=7)),
]


def outcome(process: Callable[[Any], Any], value: Any) -> tuple[str, Any]:
    """What a processor returns, or the error it raises (its type and message)."""
    try:
        return "value", process(value)
    except Exception as exc:
        return type(exc).__name__, str(exc)


def test_sqlite_gets_the_types_own_processors_and_postgresql_sqlalchemys() -> None:
    assert BIND is not CHAIN_BIND and RESULT is not CHAIN_RESULT
    pg = postgresql.dialect()
    on_pg = UtcDateTime().dialect_impl(pg)
    assert on_pg.bind_processor(pg).__qualname__ == "TypeDecorator.bind_processor.<locals>.process"


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from(ZONES),
)
def test_every_aware_datetime_is_written_as_the_chain_wrote_it(wall: datetime, zone: Any) -> None:
    value = wall.replace(tzinfo=zone)
    written = outcome(BIND, value)
    assert written == outcome(CHAIN_BIND, value)
    if written[0] == "value":
        assert outcome(RESULT, written[1]) == outcome(CHAIN_RESULT, written[1])


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 2, 6, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 2, 6, 30, 1, tzinfo=UTC),  # microseconds 0: still written
        datetime(2026, 12, 2, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")),  # the day before in UTC
        datetime(999, 1, 1, 0, 0, 0, 1, tzinfo=UTC),  # a year of three digits, padded
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1))),  # before year 1 in UTC: raises
        datetime(2026, 12, 2, 6, 30),  # naive: refused
        date(2026, 12, 2),  # a date is no datetime: refused
        "2026-12-02 06:30:01",
        None,
    ],
)
def test_edge_values_are_written_or_refused_as_the_chain_did(value: Any) -> None:
    assert outcome(BIND, value) == outcome(CHAIN_BIND, value)


def test_a_days_text_is_the_same_when_the_day_was_bound_before() -> None:
    rng = random.Random(20261202)
    day = datetime(2026, 12, 2, tzinfo=UTC)
    for _ in range(2000):
        value = day + timedelta(microseconds=rng.randrange(86_400_000_000))
        assert BIND(value) == CHAIN_BIND(value)


TEXTS = [
    "2026-12-02 06:30:01.123456",
    "2026-12-02 06:30:01.000000",
    "0999-01-01 00:00:00.000001",
    "2026-12-02T06:30:01.123456",
    "2026-12-02 06:30:01",
    "2026-12-02 06:30",
    "2026-12-02",
    "2026-12-02 06:30:01.123456+08:00",
    "2026-12-02 06:30:01.1+0500",
    "2026-12-02 06:30:01.12345Z",
    "2026-12-02T06:30:01-03:30",
    "2026-12-02 06:30:01+",
    "2026-12-02 06:30:01 ",
    "2026-12-02 25:00:00",
    "20261202T063001",
    "",
    "not a time",
    None,
    12,
    b"2026-12-02 06:30:01.123456",
]


@pytest.mark.parametrize("text", TEXTS)
def test_every_text_is_read_as_the_chain_read_it(text: Any) -> None:
    read = outcome(RESULT, text)
    assert read == outcome(CHAIN_RESULT, text)
    if read[0] == "value" and read[1] is not None:
        assert (read[1].tzinfo is UTC) == (CHAIN_RESULT(text).tzinfo is UTC)


@given(st.text(alphabet="0123456789-:. TZ+,W", max_size=34))
def test_any_near_datetime_text_is_read_as_the_chain_read_it(text: str) -> None:
    assert outcome(RESULT, text) == outcome(CHAIN_RESULT, text)


def test_the_stored_bytes_are_the_same(tmp_path: Any) -> None:
    rng = random.Random(7)
    values = [
        datetime(rng.randrange(1, 10000), 1, 1, tzinfo=UTC)
        + timedelta(days=rng.randrange(364), microseconds=rng.randrange(86_400_000_000))
        for _ in range(500)
    ]
    db = sqlite3.connect(tmp_path / "t.db")
    db.execute("CREATE TABLE t (old DATETIME, new DATETIME)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(CHAIN_BIND(v), BIND(v)) for v in values])
    rows = db.execute("SELECT CAST(old AS BLOB), CAST(new AS BLOB), typeof(old), typeof(new) FROM t").fetchall()
    db.close()
    assert all(old == new and kind == "text" for old, new, kind, _ in rows)
