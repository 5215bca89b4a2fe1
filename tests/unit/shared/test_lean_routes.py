"""The lean path (shared/lean.py) answers a plain request with the route's own endpoint and
dependencies, without FastAPI's request handling; every other request is the FastAPI
route's, with the body as it came, so its answer is the one it always was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.middleware import Middleware

from shared.lean import LeanRoutes, NotLean
from shared.problems import Problem, install_problem_handlers
from shared.route_index import RouteIndex
from tests.routed import count_routed


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    count: int = 1


async def caller(request: Request) -> str:
    if request.headers.get("authorization") != "Bearer ok":
        raise Problem(401, "unauthorized", "no valid access token")
    request.app.state.calls.append("caller")
    return "c-1"


async def keyed(request: Request, who: Annotated[str, Depends(caller)]) -> tuple[str, str]:
    request.app.state.calls.append("keyed")
    return who, request.headers.get("idempotency-key", "")


async def approval(step: Annotated[str | None, Header(alias="sandbank-step-up", max_length=8)] = None) -> str | None:
    return step


def app_of(lean: bool) -> tuple[FastAPI, list[str]]:
    """An app with one JSON route; `lean`: served by the lean path. Also the layers that
    answered: the path each time the app's router ran."""
    app = FastAPI()
    app.state.calls = []
    install_problem_handlers(app)
    router = APIRouter()

    @router.post("/v1/things", status_code=202)
    async def create_thing(
        body: Thing,
        request: Request,
        key: Annotated[tuple[str, str], Depends(keyed)],
        who: Annotated[str, Depends(caller)],
        step: Annotated[str | None, Depends(approval)],
    ) -> Response:
        if body.name == "refused":
            raise Problem(422, "refused", "a rule refused it")
        raw = await request.body()
        return JSONResponse(
            {"thing": body.model_dump(), "key": list(key), "who": who, "step": step, "raw": len(raw)},
            status_code=202,
            headers={"location": "/v1/things/t-1"},
        )

    app.include_router(router)
    assert RouteIndex.install(app.router)
    if lean:
        LeanRoutes.install(app, ["create_thing"])
    layers = count_routed(app)
    return app, layers


ROUTED = ["/v1/things"]  # the request went through FastAPI's routing
OK = {"authorization": "Bearer ok", "idempotency-key": "k-1", "content-type": "application/json"}
PLAIN = b'{"name": "a", "count": 2}'
REQUESTS: list[tuple[dict[str, str], bytes]] = [
    (OK, PLAIN),
    ({**OK, "sandbank-step-up": "abc"}, PLAIN),
    ({**OK, "content-type": "application/json; charset=utf-8"}, PLAIN),
    ({**OK, "content-type": "text/plain"}, PLAIN),
    ({k: v for k, v in OK.items() if k != "content-type"}, PLAIN),
    (OK, b'{"name": "a", "count": '),
    (OK, b"[1, 2]"),
    (OK, b""),
    (OK, b' {"name": "a"}'),
    (OK, b'{"name": "a", "count": NaN}'),
    (OK, b'{"name": "a", "colour": "red"}'),
    (OK, b'{"count": 2}'),
    (OK, b'{"name": "a", "count": "many"}'),
    (OK, b'{"name": "refused"}'),
    ({**OK, "authorization": "Bearer no"}, PLAIN),
    ({**OK, "authorization": "Bearer no"}, b"{not json"),
    ({**OK, "sandbank-step-up": "much-too-long"}, PLAIN),
]
# The requests the lean path answers itself; the others FastAPI's routing answers.
LEAN = {0, 1, 13, 14}


async def _answer(app: FastAPI, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post("/v1/things", content=body, headers=headers)
    return r.status_code, sorted(r.headers.multi_items()), r.content


@pytest.mark.parametrize("index", range(len(REQUESTS)))
async def test_a_lean_route_answers_as_its_fastapi_route_does(index: int) -> None:
    headers, body = REQUESTS[index]
    plain, plain_layers = app_of(lean=False)
    lean, layers = app_of(lean=True)

    assert await _answer(lean, headers, body) == await _answer(plain, headers, body)
    assert layers == ([] if index in LEAN else ROUTED)
    assert plain_layers == ROUTED
    # Each dependency ran once (FastAPI's per-request cache), whichever path answered.
    assert lean.state.calls == plain.state.calls


async def test_the_plain_answer_is_the_endpoints() -> None:
    app, layers = app_of(lean=True)

    status, headers, body = await _answer(app, OK, PLAIN)

    assert (status, layers) == (202, [])
    assert ("location", "/v1/things/t-1") in headers
    assert body == b'{"thing":{"name":"a","count":2},"key":["c-1","k-1"],"who":"c-1","step":null,"raw":25}'


Receive = Callable[[], Awaitable[dict[str, Any]]]


async def _asgi(app: FastAPI, messages: list[dict[str, Any]], error: Exception | None = None) -> list[dict[str, Any]]:
    """A request whose body comes as `messages` (then `error`, if any), as a server hands it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/things",
        "raw_path": b"/v1/things",
        "query_string": b"",
        "root_path": "",
        "server": ("t", 80),
        "client": ("127.0.0.1", 1),
        "headers": [(k.encode(), v.encode()) for k, v in OK.items()],
    }
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if error is not None:
            raise error
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


FIRST_PART = {"type": "http.request", "body": b'{"name":', "more_body": True}


@pytest.mark.parametrize(
    ("messages", "error", "lean_path"),
    [
        ([FIRST_PART, {"type": "http.request", "body": b'"a"}'}], None, True),
        ([FIRST_PART, {"type": "http.disconnect"}], None, False),
        ([FIRST_PART], ValueError("too large"), False),
    ],
)
async def test_a_body_in_parts_or_cut_short_is_answered_as_before(
    messages: list[dict[str, Any]], error: Exception | None, lean_path: bool
) -> None:
    plain, _ = app_of(lean=False)
    lean, layers = app_of(lean=True)

    answers = []
    for app in (plain, lean):
        try:
            answers.append(await _asgi(app, [dict(m) for m in messages], error))
        except Exception as exc:  # what reached the server, as the server would see it
            answers.append([{"raised": repr(exc)}])

    assert answers[0] == answers[1]
    assert layers == ([] if lean_path else ROUTED)


async def test_dependency_overrides_are_fastapis_to_apply() -> None:
    app, layers = app_of(lean=True)

    async def anyone(request: Request) -> str:
        return "overridden"

    app.dependency_overrides[caller] = anyone
    status, _, body = await _answer(app, {**OK, "authorization": ""}, PLAIN)

    assert (status, layers) == (202, ROUTED)
    assert b'"who":"overridden"' in body


def test_only_a_route_it_reads_exactly_is_made_lean() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.post("/v1/things/{thing_id}")
    async def by_id(thing_id: str, body: Thing) -> Response:
        return Response()

    @router.post("/v1/things/special")  # never reached: the route above matches it first
    async def special(body: Thing) -> Response:
        return Response()

    @router.post("/v1/query")
    async def queried(body: Thing, q: str = "") -> Response:
        return Response()

    app.include_router(router)
    for name, why in [
        ("by_id", "fixed path"),
        ("special", "by_id serves POST /v1/things/special first"),
        ("queried", "query"),
        ("missing", "no such routes"),
    ]:
        with pytest.raises(NotLean, match=why):
            LeanRoutes.install(app, [name])


async def test_behind_another_innermost_layer_every_request_is_fastapis(caplog: pytest.LogCaptureFixture) -> None:
    """Under a Starlette whose innermost layer is not the ExceptionMiddleware the lean path
    reads, it turns itself off instead of failing the requests."""
    app, layers = app_of(lean=True)

    class Wrapped:  # stands where Starlette's own ExceptionMiddleware stood
        def __init__(self, app: Any) -> None:
            self.inner = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.inner(scope, receive, send)

    lean_layer = app.user_middleware[-1]
    app.user_middleware[-1:] = [Middleware(lean_layer.cls, *lean_layer.args, **lean_layer.kwargs), Middleware(Wrapped)]

    assert (await _answer(app, OK, PLAIN))[0] == 202
    assert layers == ROUTED
    assert "the lean path is off" in caplog.text
