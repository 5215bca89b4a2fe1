"""What the gateway's features and adapters raise when they refuse, and how the API turns
it into RFC 9457 problem+json: in one place, not in try/except inside routes.

A `Refused` error is a domain error (shared/errors.py: a stable `code`, the problem type's
slug, and a human `detail`, no HTTP status) that may also carry the facts its answer shows
(a challenge id, the attempts left) and how long to wait before retrying. Each feature
package lists its errors' answers beside its routes (`ERRORS`), and `install` registers one
exception handler for all of them. A service that does not answer is shared/errors.py's
`ServiceUnavailable`, answered 503 by every app. A route may still raise `Problem` for a
request it refuses itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from shared.errors import DomainError
from shared.problems import Problem, problem_response

# A documented error answer, for `responses=` of routes and routers.


class Refused(DomainError):
    """A subclass names its `code`, and its `detail` when that never varies."""

    code = "refused"
    title: str | None = None
    detail = ""
    retry_after_s: int | None = None

    def __init__(self, detail: str | None = None, *, retry_after_s: int | None = None, **facts: Any) -> None:
        super().__init__(detail if detail is not None else type(self).detail)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s
        self.facts = facts


# How an error becomes a problem: its status, or a function for those that need more
# (a status that depends on the error, extra headers).
Answer = int | Callable[[Any], Problem]
ErrorMap = Mapping[type[Refused], Answer]


def problem_of(error: Refused, errors: ErrorMap) -> Problem:
    for kind in type(error).__mro__:
        answer = errors.get(kind)
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
