"""Each request's log line, as the JSON formatter writes it: its fields, its ids, and
its timestamp to the millisecond in whichever second the record was made."""

from __future__ import annotations

import io
import logging

import httpx
import orjson
import pytest
from fastapi import FastAPI

from shared.observability import JsonFormatter, RequestContextMiddleware
from shared.problems import install_problem_handlers


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("sandbank.http", logging.INFO, "", 0, "GET %s", ("/x",), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_each_record_is_stamped_with_its_own_second_and_millisecond() -> None:
    formatter = JsonFormatter("gateway")

    stamps = [orjson.loads(formatter.format(_record(t)))["ts"] for t in (1767225599.25, 1767225599.5, 1767225600.125)]

    assert stamps == ["2025-12-31T23:59:59.250Z", "2025-12-31T23:59:59.500Z", "2026-01-01T00:00:00.125Z"]


async def test_a_request_logs_one_line_with_its_method_path_status_and_ids(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("gateway"))
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    caplog.set_level(logging.INFO, logger="sandbank.http")
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.post("/v1/things")
    async def things() -> dict[str, str]:
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        r = await http.post("/v1/things", headers={"X-Request-ID": "r-1", "X-Correlation-ID": "c-1"})

    [line] = [orjson.loads(text) for text in out.getvalue().splitlines()]
    assert (r.headers["x-request-id"], r.headers["x-correlation-id"]) == ("r-1", "c-1")
    assert line["msg"].startswith("POST /v1/things 200 ") and line["msg"].endswith("ms")
    assert {k: line[k] for k in ("level", "service", "logger", "request_id", "correlation_id")} == {
        "level": "info",
        "service": "gateway",
        "logger": "sandbank.http",
        "request_id": "r-1",
        "correlation_id": "c-1",
    }


def _ids_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.get("/v1/things")
    async def things() -> dict[str, str]:
        return {}

    return app


@pytest.mark.parametrize(
    "sent",
    [
        b"<script>alert(1)</script>",
        b"a" * 129,
        b"x\ty",
        b"two words",
        b"\xe9t\xe9",
        "\u4f1a".encode(),
        b"",
    ],
)
async def test_an_id_that_is_not_id_shaped_is_replaced_by_one_of_ours(sent: bytes) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_ids_app()), base_url="http://service") as http:
        r = await http.get("/v1/things", headers=[(b"X-Request-ID", sent), (b"X-Correlation-ID", sent)])

    ours = r.headers["x-request-id"]
    assert len(ours) == 32 and int(ours, 16) >= 0, ours
    assert r.headers["x-correlation-id"] == ours


@pytest.mark.parametrize("sent", ["r-1", "0af7651916cd43dd8448eb211c80319c", "app/1.2:login@phone+x=y", "a" * 128])
async def test_an_id_shaped_id_is_kept(sent: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_ids_app()), base_url="http://service") as http:
        r = await http.get("/v1/things", headers={"X-Request-ID": sent})

    assert r.headers["x-request-id"] == sent


async def test_an_unexpected_error_answers_a_problem_that_names_its_request() -> None:
    """Starlette answers an unhandled error outside every middleware: the body still carries
    the request's id, as every other problem's does, for the app to quote to support."""
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/v1/broken")
    async def broken() -> dict[str, str]:
        raise OverflowError("date value out of range")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        named = await http.get("/v1/broken", headers={"X-Request-ID": "r-500"})
        unnamed = await http.get("/v1/broken")

    assert named.status_code == 500
    assert named.headers["content-type"].startswith("application/problem+json")
    assert (named.json()["type"].rsplit("/", 1)[-1], named.json()["request_id"]) == ("internal-error", "r-500")
    assert len(unnamed.json()["request_id"]) == 32  # the id the middleware gave it
