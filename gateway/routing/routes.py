"""Pass-through routes: a service's endpoint offered under the gateway's /v1, declared as
one row (`PassThrough`) and built into a FastAPI route by `build`.

A row says what the public API shows (method, path, body and response models, status,
description, tags, documented problems, parameters) and what the gateway does on the
way: who may call (`who`); whether the request moves money (`idempotent`: it needs an
Idempotency-Key, and its answer is kept for replays); whether it may need a one-time
code (`step_up`: payments decides, after validating the request, and the gateway turns
its 403 `step-up-required` into a challenge, see gateway/identity/stepup.py); or whether it
relays a Server-Sent Events stream (`stream`: a caller holds a few at once, see
gateway/streams.py). The body is validated here against the service's own model
(shared/schemas) and forwarded as it came; the service verifies the token and its rules
itself. A row that takes a file (`upload`: its OpenAPI request body, as multipart) forwards
the raw body with its Content-Type for the service to check, within its own body limit
(`body_limit`); a row that answers a file (`file`) passes it back with its type, name and
ETag. A row a phone polls (`revalidate`) answers with an ETag and 304 Not Modified to an
If-None-Match that still holds (gateway/routing/conditional.py). Path parameters reach
the service percent-encoded, each in its own segment.
"""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal, NamedTuple, get_args
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request, params
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from gateway.deps import Adjuster, Authenticated, Compliance, Customer, Gateway, Operator
from gateway.routing.conditional import HEADERS_DOC, NOT_MODIFIED, conditional
from gateway.routing.idempotency import Answer, fingerprint, forward_idempotently
from shared import idempotency
from shared.auth import Principal
from shared.idempotency import read_key, require_key
from shared.problems import PROBLEM, Problem, documented, documents

IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", max_length=1000, description="The ETag of the copy held: 304 if it is current"),
]
Who = Literal["customer", "operator", "adjuster", "compliance", "session", "anyone"]
_PRINCIPAL: dict[str, Any] = {
    "customer": Customer,
    "operator": Operator,
    "adjuster": Adjuster,
    "compliance": Compliance,
    "session": Authenticated,
}
_PATH_PARAM = re.compile(r"{(\w+)}")
# A streaming service sends a comment line at least this often; a quieter stream is dead.
STREAM_READ_TIMEOUT_S = 75.0


@dataclass(frozen=True)
class PassThrough:
    method: str
    path: str  # public, and the service's unless `upstream` says otherwise
    service: str
    name: str  # the operation's name (its OpenAPI operationId and summary derive from it)
    response: type[BaseModel] | None
    doc: str = ""  # the OpenAPI description
    who: Who = "customer"
    body: type[BaseModel] | None = None
    status: int = 200
    tags: tuple[str, ...] = ()
    problems: tuple[int, ...] = ()  # statuses documented as problem+json
    responses: Mapping[int | str, dict[str, Any]] = field(default_factory=dict)  # documented answers beyond those
    params: Mapping[str, Any] = field(default_factory=dict)  # path parameters' types (str when absent)
    query: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (type, default)
    upstream: str | None = None
    idempotent: bool = False
    # With `idempotent`: the key may be left out (a retry without one is a new request).
    key_optional: bool = False
    # With `idempotent`: the service may ask for the customer's one-time code (403
    # `step-up-required`), which the gateway answers with a challenge, then an approval.
    step_up: bool = False
    stream: bool = False
    # The OpenAPI request body of a row whose body the gateway does not parse (a file).
    upload: Mapping[str, Any] | None = None
    # A larger body limit than the gateway's own, for this row alone (bytes).
    body_limit: int | None = None
    # The answer is a file (its 200 in `responses`), not JSON.
    file: bool = False
    # Polled data: an ETag on the 200, 304 to an If-None-Match that still holds; the
    # top-level members in `volatile` (changing on every answer) are left out of the ETag.
    revalidate: bool = False
    volatile: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.idempotent and self.who == "anyone":
            raise ValueError(f"{self.name}: an idempotent route needs a customer to own its keys")
        if self.stream and self.who == "anyone":
            raise ValueError(f"{self.name}: a stream counts against its caller's streams, so it needs one")
        if self.step_up and not (self.idempotent and self.body is not None):
            raise ValueError(f"{self.name}: step-up binds an approval to a body and an Idempotency-Key")

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)


def build(routes: Iterable[PassThrough]) -> list[APIRouter]:
    """The rows as routes, a router for each start of their paths (`/v1/payments`), in
    the table's order: a request is matched against the rows of its own start alone
    (shared/route_index.py), not against the whole table, twice."""
    routers: dict[str, APIRouter] = {}
    for route in routes:
        start = "/".join(route.path.split("/")[:3])
        if "{" in start:
            raise ValueError(f"{route.name}: a pass-through path starts with two fixed segments (/v1/<area>)")
        router = routers.setdefault(start, APIRouter())
        extra: dict[str, Any] = {"response_class": StreamingResponse} if route.stream else {}
        if route.file:
            extra["response_class"] = Response
        if route.upload is not None:
            extra["openapi_extra"] = dict(route.upload)
        responses: dict[int | str, dict[str, Any]] = {
            **dict.fromkeys(route.problems, PROBLEM),
            **_gateway_problems(route),
            **route.responses,
        }
        if route.revalidate:
            responses[200] = {**responses.get(200, {}), "headers": HEADERS_DOC}
            responses[304] = NOT_MODIFIED
        router.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            name=route.name,
            status_code=route.status if route.status != 200 else None,
            response_model=route.response,
            description=inspect.cleandoc(route.doc),
            tags=list(route.tags),
            responses=responses,
            **extra,
        )
    return list(routers.values())


def body_limits(routes: Iterable[PassThrough]) -> dict[str, int]:
    """The rows' own body limits, by path template, for shared/web.py's `build_app`."""
    return {route.path: route.body_limit for route in routes if route.body_limit is not None}


def segment(name: str, value: Any) -> str:
    """A path parameter as one segment of the service's path: percent-encoded whole, so a
    `?` or `#` in it (sent as %3F, %23) stays in it. `.` and `..` would move up the
    service's path (as %2E%2E too, once an HTTP client normalises it): no id of ours."""
    text = str(value)
    if text in ("", ".", ".."):
        raise Problem(404, "not-found", f"there is no {name.replace('_', ' ')} {text!r}")
    return quote(text, safe="")


def _gateway_problems(route: PassThrough) -> dict[int | str, dict[str, Any]]:
    """What the gateway itself may answer on the way to the row's service (the rules of
    shared/web.py add what the row's parameters and caller tell)."""
    found: dict[int | str, dict[str, Any]] = {
        503: {**PROBLEM, "description": f"The {route.service} service is not answering"}
    }
    if route.idempotent:
        found[409] = {**PROBLEM, "description": "A request with this Idempotency-Key is still running"}
        found[422] = {
            **PROBLEM,
            "description": "This Idempotency-Key was used with another body, or the request does not match "
            "its schema, or the service refused it",
        }
    return found


class Keyed(NamedTuple):
    """Who calls a money-moving row, and the Idempotency-Key they sent (None: left out where
    the row allows)."""

    principal: Principal
    key: str | None


def _keyed(route: PassThrough) -> Any:
    """The caller of an idempotent row (`who`, as `_PRINCIPAL` checks it) and their key,
    read after the caller (no token is a 401 before a missing key is a 400), as one
    dependency: FastAPI solves each dependency on each request anew, and the role check and
    the key reader, solved apart, were a share of every transfer's CPU at the gateway. It
    answers what those two answered."""
    check = None if route.who == "session" else _dependency(_PRINCIPAL[route.who])
    role = documented(check)
    problems = {**(role.problems if role is not None else {}), **idempotency.INVALID}

    async def principal(caller: Principal) -> Principal:
        return caller if check is None else await check(caller)

    if route.key_optional:

        @documents(problems, parameters=[idempotency.key_parameter(required=False)])
        async def optional_key(request: Request, caller: Authenticated) -> Keyed:
            return Keyed(await principal(caller), read_key(request))

        return Depends(optional_key)

    @documents(problems, parameters=[idempotency.key_parameter(required=True)])
    async def required_key(request: Request, caller: Authenticated) -> Keyed:
        return Keyed(await principal(caller), require_key(request))

    return Depends(required_key)


def _dependency(alias: Any) -> Any:
    """The function behind a dependency's alias (`Annotated[T, Depends(function)]`)."""
    depends = get_args(alias)[1]
    assert isinstance(depends, params.Depends)
    return depends.dependency


def _endpoint(route: PassThrough) -> Callable[..., Any]:
    """The route's function, with the signature FastAPI reads its parameters from."""
    names = route.path_params
    upstream = route.upstream or route.path

    async def endpoint(**values: Any) -> Response:
        request: Request = values["request"]
        # Read here rather than as a dependency: one fewer for FastAPI to solve per request.
        gw: Gateway = request.app.state.gateway
        keyed: Keyed | None = values.get("keyed")
        principal = keyed.principal if keyed is not None else values.get("principal")
        path = upstream.format(**{n: segment(n, values[n]) for n in names})
        if route.stream and principal is not None:  # a stream row always has a caller (__post_init__)
            slot = gw.streams.take(route.path, principal.subject)
            return await gw.upstreams.relay_stream(
                route.service, request, path, caller=principal, read_timeout_s=STREAM_READ_TIMEOUT_S, slot=slot
            )
        key = keyed.key if keyed is not None else None
        if key is None or principal is None:
            forwarded = await gw.upstreams.forward(route.service, request, path, caller=principal)
            return conditional(request, forwarded, route.volatile) if route.revalidate else forwarded
        fp = fingerprint(request, await request.body())

        def send(extra: dict[str, str]) -> Awaitable[Response]:
            headers = {idempotency.HEADER: key, **extra}  # the key travels on: the service keeps it too
            return gw.upstreams.forward(route.service, request, path, caller=principal, extra_headers=headers)

        answer: Answer = partial(send, {})
        if route.step_up:
            answer = partial(gw.stepup.forward, principal, key, send)
        return await forward_idempotently(gw.idempotency, answer, principal.subject, key=key, fp=fp)

    P = inspect.Parameter
    parameters = [P(n, P.KEYWORD_ONLY, annotation=route.params.get(n, str)) for n in names]
    if route.body is not None:
        parameters.append(P("body", P.KEYWORD_ONLY, annotation=route.body))
    parameters.append(P("request", P.KEYWORD_ONLY, annotation=Request))
    if route.idempotent:
        parameters.append(P("keyed", P.KEYWORD_ONLY, annotation=Annotated[Keyed, _keyed(route)]))
    elif route.who != "anyone":
        parameters.append(P("principal", P.KEYWORD_ONLY, annotation=_PRINCIPAL[route.who]))
    if route.revalidate:  # read by conditional() from the request; a parameter for the document
        parameters.append(P("if_none_match", P.KEYWORD_ONLY, annotation=IfNoneMatch, default=None))
    # `?from=` is a Python keyword: its parameter is `from_`, and its type says the alias.
    parameters += [
        P(f"{n}_" if keyword.iskeyword(n) else n, P.KEYWORD_ONLY, annotation=t, default=d)
        for n, (t, d) in route.query.items()
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = route.name
    return endpoint
