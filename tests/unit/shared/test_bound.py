"""Bound: a Core statement's named values as sqlite3's parameters, as a session binds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.dialects import sqlite

from shared.db import Bound, UtcDateTime

metadata = MetaData()
movement = Table(
    "movement",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36)),
    Column("direction", String(3)),
    Column("amount_minor", Integer),
    Column("at", UtcDateTime),
)
WHEN = datetime(2026, 12, 2, 18, 30, 1, 123456, tzinfo=timezone(timedelta(hours=8)))


def _bound() -> Bound:
    m = movement.c
    since = bindparam("since", type_=UtcDateTime)
    early = select(m.id).where(m.customer_id == bindparam("customer_id"), m.at >= since, m.direction == "in")
    return Bound(
        select(m.id).where(
            m.customer_id == bindparam("customer_id"), m.at < since, m.amount_minor > 100, m.id.in_(early)
        ),
        sqlite.dialect(),
    )


def test_a_value_named_in_several_places_is_bound_in_each_as_its_type_converts_it() -> None:
    sql, params = _bound()({"customer_id": "c-1", "since": WHEN})
    assert sql.count("?") == len(params) == 6
    # The constants stay as the statement holds them; the time is written as UTC text.
    assert params == ["c-1", "2026-12-02 10:30:01.123456", 100, "c-1", "2026-12-02 10:30:01.123456", "in"]


def test_each_call_binds_its_own_values_and_ignores_names_the_statement_lacks() -> None:
    bound = _bound()
    bound({"customer_id": "c-1", "since": WHEN})
    _, params = bound({"customer_id": "c-2", "since": WHEN.astimezone(UTC) + timedelta(days=1), "other": 5})
    assert params == ["c-2", "2026-12-03 10:30:01.123456", 100, "c-2", "2026-12-03 10:30:01.123456", "in"]
