"""Opaque cursors for newest-first pages, the same in every service.

Two shapes: a sequence number (an autoincrement id: statement lines, orders,
notifications) and a keyset of (created_at, id) for tables keyed by UUIDs. Each cursor
names the list that wrote it (`of`), so a list reads only its own: another list's, well
formed as it may be, would resume at a row of a different table. A cursor this API did not
issue is a 400 `invalid-cursor`, never a 500 from the database. The notification stream's
position (`Last-Event-ID`) is a plain notification id, read by `parse_position`.

`paging(...)` is the one FastAPI dependency for a page's query parameters (`limit` with
its bounds and default, `cursor` with its longest length): a route takes `page: PageDep`
and reads `page.limit`, `page.cursor`. Out of bounds, or too long, is a 422 problem; a
cursor of the right length that this list did not issue (empty, malformed, another
list's kind) is the 400 above, wherever the list lives.
"""

from __future__ import annotations

import base64
import inspect
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query
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


def _named(cursor: str, of: str) -> str:
    """What the list `of` wrote after its name; another list's cursor (or one naming no
    list, as every cursor did before lists were named) is invalid."""
    named, _, rest = _decode(cursor).partition("|")
    if named != of:
        raise invalid_cursor(f"the cursor is not one this list ({of}) issued")
    return rest


def encode_seq(seq: int, *, of: str) -> str:
    return _encode(f"{of}|{seq}")


def decode_seq(cursor: str | None, *, of: str) -> int | None:
    """The sequence number below which the next page of the list `of` starts (None: the
    first page)."""
    if cursor is None:
        return None
    return parse_seq(_named(cursor, of))


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


def newest_first(query: Select[Any], model: Any, cursor: str | None, limit: int, *, of: str) -> Select[Any]:
    """Order by (created_at, id) descending, one row more than the page (to know if there is
    a next one), after the keyset the cursor names. The list `of` takes only the cursors
    `next_keyset` wrote for it."""
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    if cursor is None:
        return query
    at, _, last_id = _named(cursor, of).partition("|")
    try:
        # In UTC here, as the database compares it: an offset can carry 0001-01-01 or
        # 9999-12-31 past the years a datetime holds (OverflowError, not ValueError).
        created = datetime.fromisoformat(at).astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid_cursor() from None
    if not at.endswith("+00:00") or not last_id or "|" in last_id:
        raise invalid_cursor()
    return query.where(or_(model.created_at < created, and_(model.created_at == created, model.id < last_id)))


def next_keyset(rows: list[Any], limit: int, *, of: str) -> str | None:
    """The cursor of the list `of` after a page fetched with `newest_first` (None: it was
    the last page)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return _encode(f"{of}|{last.created_at.isoformat()}|{last.id}")


@dataclass(frozen=True)
class Page:
    """What a client asked of one page: at most `limit` items, after `cursor`."""

    limit: int
    cursor: str | None


def paging(
    *,
    default: int = 50,
    most: int = 200,
    cursor_length: int | None = 200,
    limit_doc: str | None = None,
    cursor_doc: str | None = None,
) -> Any:
    """`Depends` on `limit` (1 to `most`, `default` when absent) and `cursor` (at most
    `cursor_length` characters; None: any), documented as `limit_doc` and `cursor_doc`."""

    def page(limit: int, cursor: str | None) -> Page:
        return Page(limit=limit, cursor=cursor)

    # The bounds differ by route, so the parameters are built here rather than written in
    # a signature (string annotations could not see this function's arguments).
    keyword = inspect.Parameter.KEYWORD_ONLY
    page.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "limit",
                keyword,
                default=default,
                annotation=Annotated[int, Query(ge=1, le=most, description=limit_doc)],
            ),
            inspect.Parameter(
                "cursor",
                keyword,
                default=None,
                annotation=Annotated[str | None, Query(max_length=cursor_length, description=cursor_doc)],
            ),
        ],
        return_annotation=Page,
    )
    return Depends(page)


NEXT_CURSOR_DOC = "`next_cursor` of the page before"

PageDep = Annotated[Page, paging()]
# The lists a phone scrolls (payments, saved payees, schedules, notifications, webhook
# deliveries): 20 at a time, at most 100.
SmallPageDep = Annotated[Page, paging(default=20, most=100, cursor_doc=NEXT_CURSOR_DOC)]
