"""What the gateway's features and adapters raise when they refuse, and how the API turns
it into RFC 9457 problem+json: in one place, not in try/except inside routes.

A `Refused` error carries a stable `code` (the problem type's slug), a human `detail` and
the facts the body shows, but no HTTP status: each feature package lists its errors'
statuses beside its routes (`ERRORS`), and `install` registers one exception handler for
all of them. A route may still raise `Problem` for a request it refuses itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from shared.problems import PROBLEM_JSON, Problem, problem_response

# A documented error answer, for `responses=` of routes and routers.
PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "Problem details (RFC 9457)"}


class Refused(Exception):
    """A subclass names its `code`, and its `detail` when that never varies."""

    code: str = "refused"
    title: str | None = None
    detail: str = ""
    retry_after_s: int | None = None

    def __init__(self, detail: str | None = None, *, retry_after_s: int | None = None, **facts: Any) -> None:
        self.detail = detail if detail is not None else type(self).detail
        super().__init__(self.detail)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s
        self.facts = facts


# How an error becomes a problem: its status, or a function for those that need more
# (a status that depends on the error, extra headers).
Answer = int | Callable[[Any], Problem]
ErrorMap = Mapping[type[Refused], Answer]


def problem_of(error: Refused, errors: ErrorMap) -> Problem:
    for kind in type(error).__mro__:
        answer = errors.get(kind)  # type: ignore[arg-type]
        if answer is None:
            continue
        if not isinstance(answer, int):
            return answer(error)
        headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else None
        return Problem(answer, error.code, error.detail, title=error.title, headers=headers, **error.facts)
    raise LookupError(f"no answer for {type(error).__name__}") from error


def install(app: FastAPI, errors: ErrorMap) -> None:
    """One handler for every `Refused` error of the gateway; an unmapped one is a 500 (and logged)."""

    async def answer(request: Request, error: Exception) -> Response:
        if not isinstance(error, Refused) or not any(kind in errors for kind in type(error).__mro__):
            raise error
        return problem_response(problem_of(error, errors), request.url.path)

    app.add_exception_handler(Refused, answer)
