"""JSON request bodies, read strictly: sent as JSON, in UTF-8, each object's names unique.

RFC 8259 says JSON exchanged between systems is UTF-8 (section 8.1) and that an object's
names SHOULD be unique, parsers differing on which of two wins (section 4). A bank does
not guess which of two amounts the phone meant, so a body that names a member twice is
refused, at any depth, as is one that is not UTF-8. Every app reads its JSON bodies this
way: FastAPI's route parsing (through `shared.web`'s body rule) and the lean path
(shared/lean.py) alike.

The check is cheap on the hot path: a body is parsed once (by json.loads, where FastAPI
has already parsed it), and the colons in its bytes counted against the members parsed.
Each member has one colon, so when the counts agree no name can have been repeated; only
a body with more colons than members (a duplicate, or a colon inside a string: a time, a
URL) is parsed again, with a hook that sees every name.
"""

from __future__ import annotations

import json
from typing import Any

NOT_UTF8 = "the request body is not UTF-8 JSON"
TOO_DEEP = "the request body is not valid JSON: it nests too deeply"
# In a request's scope once its body was read here (the lean path): not read again.
CHECKED = "sandbank.json_checked"


class MalformedJson(ValueError):
    """A body that is not JSON this API reads; `detail` says why, for the person reading."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type is the one this API reads: `application/json`, with no charset
    or UTF-8's (`; charset=utf-8`). A body declared in another charset is not read as if it
    were UTF-8; nor is a JSON of other rules (`application/merge-patch+json`) read as a
    plain one."""
    if not content_type:
        return False
    media, _, parameters = content_type.partition(";")
    return media.strip().lower() == "application/json" and charset_of(parameters) in (None, "utf-8", "utf8")


def charset_of(parameters: str) -> str | None:
    """The `charset` among a Content-Type's parameters (after its media type), lower case."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def loads(body: bytes) -> Any:
    """`body` parsed, or MalformedJson: not UTF-8, not JSON, or a name twice in one object.
    Parsed by json.loads, as FastAPI's own route parsing does: orjson is faster but reads
    an integer past 64 bits as a float, and the lean path answers as the route would."""
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise MalformedJson(NOT_UTF8) from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"the request body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise MalformedJson(TOO_DEEP) from None
    check_parsed(body, value)
    return value


def check_parsed(body: bytes, value: Any) -> None:
    """MalformedJson unless `body`, which json.loads parsed into `value`, is UTF-8 with
    unique names. json.loads also reads UTF-16 and UTF-32, whose text has NUL bytes where
    UTF-8 JSON has none (a NUL is escaped in a string), and keeps a repeated name's last
    value."""
    if not body.isascii():
        _text(body)
    if b"\x00" in body:
        raise MalformedJson(NOT_UTF8)
    if body.count(b":") > _members(value):
        _strict(_text(body))


# What json.loads makes of objects and arrays.
_NESTED = frozenset((dict, list))


def _members(value: Any) -> int:
    """How many members the objects in `value` have, all told (a loop: a body may nest deeper
    than Python recurses)."""
    if type(value) not in _NESTED:
        return 0
    count, pending = 0, [value]
    while pending:
        found = pending.pop()
        if type(found) is dict:
            count += len(found)
            found = found.values()
        pending += [item for item in found if type(item) in _NESTED]
    return count


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedJson(NOT_UTF8) from None


def _strict(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"the request body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise MalformedJson(TOO_DEEP) from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise MalformedJson(f"the request body names {json.dumps(name)} twice in one object; send it once")
            seen.add(name)
    return found
