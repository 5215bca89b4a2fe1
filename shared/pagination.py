"""Opaque cursors for newest-first pages, the same in every service.

Two shapes: a sequence number (an autoincrement id: statement lines, orders) and a
keyset of (created_at, id) for tables keyed by UUIDs. A cursor this API did not issue
is a 400 `invalid-cursor`, never a 500 from the database. The gateway's notifications
show their sequence numbers as they are (`parse_seq`, `parse_position`).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_

from shared.problems import Problem

# Sequence columns are 32-bit INTEGERs: a bigger number is no cursor of ours.
MAX_SEQ = 2**31 - 1
# ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses or reads.
_DIGITS = re.compile(r"[0-9]{1,18}")


def invalid_cursor(detail: str = "the cursor is not one this API issued") -> Problem:
    return Problem(400, "invalid-cursor", detail)


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode() + b"==").decode("ascii")
    except ValueError:
        raise invalid_cursor() from None


def encode_seq(seq: int) -> str:
    return _encode(str(seq))


def decode_seq(cursor: str | None) -> int | None:
    """The sequence number below which the next page starts (None: the first page)."""
    if cursor is None:
        return None
    return parse_seq(_decode(cursor))


def parse_seq(text: str) -> int:
    """A sequence number written out in ASCII digits, as a plain-number cursor carries it."""
    if not _DIGITS.fullmatch(text) or not 0 < (seq := int(text)) <= MAX_SEQ:
        raise invalid_cursor()
    return seq


def parse_position(text: str, detail: str) -> int:
    """Where a client resumes a stream (the last event id it saw, 0 for the beginning), in
    ASCII digits. A number past every sequence number there can be is the end."""
    if not _DIGITS.fullmatch(text):
        raise invalid_cursor(detail)
    return min(int(text), MAX_SEQ)


def newest_first(query: Select[Any], model: Any, cursor: str | None, limit: int) -> Select[Any]:
    """Order by (created_at, id) descending, one row more than the page (to know if there is
    a next one), after the keyset the cursor names."""
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    if cursor is None:
        return query
    at, _, last_id = _decode(cursor).partition("|")
    try:
        created = datetime.fromisoformat(at)
    except ValueError:
        raise invalid_cursor() from None
    if created.tzinfo is None or not last_id:
        raise invalid_cursor()
    return query.where(or_(model.created_at < created, and_(model.created_at == created, model.id < last_id)))


def next_keyset(rows: list[Any], limit: int) -> str | None:
    """The cursor after a page fetched with `newest_first` (None: it was the last page)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return _encode(f"{last.created_at.isoformat()}|{last.id}")
