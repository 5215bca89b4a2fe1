"""RFC 9457 problem details: every error a client sees has this shape.

A stable `type` URI per kind of problem, a short `title`, a human `detail`;
validation problems add `errors` with the failing fields. Stack traces go to the
operator's log, never to the client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.bodies import NOT_UTF8, TOO_DEEP, charset_of, is_json
from shared.errors import DomainError, ServiceUnavailable
from shared.money import AMOUNT_ERROR
from shared.observability import request_id_var

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://sandbank.dev/problems/"
PROBLEM_JSON = "application/problem+json"
# How a route documents an answer that is a problem (`responses={404: PROBLEM, ...}`); the
# OpenAPI document gives each the `Problem` schema (shared/web.py).
PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {}}, "description": "Problem details (RFC 9457)"}

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


class FieldProblem(BaseModel):
    field: str = Field(description="The failing field, dotted (`payee.account_id`); `body` for the whole body")
    message: str


class ProblemDetails(BaseModel):
    """Every error answer: RFC 9457 problem details, as `application/problem+json`. A
    problem may carry more members of its kind (`challenge_id`, `attempts_left`, ...)."""

    model_config = ConfigDict(
        title="Problem",
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://sandbank.dev/problems/validation-error",
                    "title": "Unprocessable content",
                    "status": 422,
                    "detail": "amount: Input should be greater than 0",
                    "request_id": "0b6f3f0e8d0c4a599a573c1e4f0f1c11",
                    "instance": "/v1/payments/transfers",
                    "errors": [{"field": "amount", "message": "Input should be greater than 0"}],
                }
            ]
        },
    )

    type: str = Field(description="A stable URI per kind of problem: its last segment is the problem's code")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong, for a person to read")
    instance: str | None = Field(default=None, description="The request's path")
    request_id: str | None = None
    errors: list[FieldProblem] | None = Field(default=None, description="Validation problems: the failing fields")


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Documented:
    """What a dependency adds to the OpenAPI operation of every route that depends on it:
    the problems it may answer (status: why) and the headers it reads itself."""

    problems: Mapping[int, str]
    parameters: tuple[dict[str, Any], ...] = ()


_DOCUMENTED = "__sandbank_documented__"


def documents(problems: Mapping[int, str], *, parameters: Iterable[dict[str, Any]] = ()) -> Callable[[F], F]:
    """Mark a dependency with the problems it may answer and the header parameters it reads:
    shared/web.py documents them on each route whose dependencies include it."""

    def mark(dependency: F) -> F:
        setattr(dependency, _DOCUMENTED, Documented(dict(problems), tuple(parameters)))
        return dependency

    return mark


def documented(dependency: Any) -> Documented | None:
    found = getattr(dependency, _DOCUMENTED, None)
    return found if isinstance(found, Documented) else None


class Problem(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if rid := request_id_var.get():
            body["request_id"] = rid
        body.update(self.extra)
        return body


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, "not-found", f"{what} {ident} was not found")


def unavailable(service: str) -> Problem:
    """Another Sandbank service did not answer: worth retrying shortly."""
    return Problem(
        503,
        "service-unavailable",
        f"the {service} service is not answering; try again shortly",
        headers={"Retry-After": "2"},
    )


def malformed_json(detail: str) -> Problem:
    """A body that is not JSON this API reads (shared/bodies.py)."""
    return Problem(400, "malformed-json", detail)


def unsupported_media_type(content_type: str | None) -> Problem:
    """A body sent to a JSON route as something else, or with no Content-Type."""
    media, _, parameters = (content_type or "").partition(";")
    media = media.strip()[:100]
    charset = charset_of(parameters)
    if charset is not None and charset not in ("utf-8", "utf8"):
        sent = f"it came in charset {charset[:40]!r}"
    else:
        sent = f"it came as {media}" if media else "it came without a Content-Type"
    return Problem(415, "unsupported-media-type", f"send the body as application/json in UTF-8 ({sent})")


# How much of a request's own text (a path, an id in the detail) a problem repeats back: a
# 60,000-character id sent in a path is not echoed twice into a 120 KB answer.
ECHO_MAX = 300


def _clipped(text: str) -> str:
    return text if len(text) <= ECHO_MAX else text[:ECHO_MAX] + "…"


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    body = problem.body()
    if isinstance(body.get("detail"), str):
        body["detail"] = _clipped(body["detail"])
    if instance:
        body.setdefault("instance", _clipped(instance))
    return Response(
        orjson.dumps(body),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            return malformed_json(
                f"the request body is not valid JSON: {err.get('ctx', {}).get('error', 'parse error')}"
            )
    items = [
        {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "")).removeprefix("Value error, ")}
        for e in errors
    ]
    summary = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    # An amount refused for its shape answers as one refused for its value (zero, too precise).
    slug = "invalid-amount" if all(e.get("type") == AMOUNT_ERROR for e in errors) else "validation-error"
    return Problem(422, slug, summary or "invalid request", errors=items)


def install_error_statuses(app: FastAPI, statuses: Mapping[type[DomainError], int]) -> None:
    """An API's one table from domain errors to HTTP statuses: the most specific class
    listed wins, and a domain error not listed answers 422."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        status = next((statuses[c] for c in type(exc).__mro__ if c in statuses), 422)
        return problem_response(Problem(status, exc.code, exc.detail), request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc, request.url.path)

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return problem_response(unavailable(exc.service), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(_validation_problem(exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI's word for a JSON body json.loads could not decode ("There was an error
        # parsing the body"): bytes that are not UTF-8, or nested deeper than it recurses.
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            content_type = request.headers.get("content-type")
            # Declared in another charset: the declaration is what is refused, as for a body
            # that decodes (shared.web's JSON body rule).
            problem = malformed_json(NOT_UTF8) if is_json(content_type) else unsupported_media_type(content_type)
            return problem_response(problem, request.url.path)
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
            return problem_response(malformed_json(TOO_DEEP), request.url.path)
        slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        return problem_response(
            Problem(exc.status_code, slug, detail, headers=dict(exc.headers or {})),
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Starlette answers an unhandled error outside every middleware, after the request's
        # context was reset: its id comes from the scope, for the body to carry it as every
        # problem's does.
        rid = request.scope.get("sandbank.request_id")
        return problem_response(
            Problem(
                500,
                "internal-error",
                "an unexpected error occurred; it has been logged",
                **({"request_id": rid} if rid else {}),
            ),
            request.url.path,
        )
