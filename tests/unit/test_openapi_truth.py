"""Every app's OpenAPI document tells what its routes do: a route that reads the
Idempotency-Key header declares it (required where a missing key is refused), every
documented error answer is problem+json with the `Problem` schema, and the gateway's
pass-through rows document at least what their service answers and takes."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from gateway.main import create_app as gateway_app
from gateway.ops.api import ROUTES as OPS_ROUTES
from gateway.routing.routes import PassThrough
from gateway.routing.table import DEPOSIT_ROUTES, ROUTES
from gateway.settings import Settings as GatewaySettings
from services.accounts.main import create_app as accounts_app
from services.insurance.main import create_app as insurance_app
from services.insurance.settings import Settings as InsuranceSettings
from services.payments.main import create_app as payments_app
from services.payments.settings import Settings as PaymentsSettings
from services.securities.main import create_app as securities_app
from services.securities.settings import Settings as SecuritiesSettings
from shared import idempotency
from shared.problems import PROBLEM_JSON
from shared.settings import DbSettings, Settings

APPS: dict[str, tuple[Callable[..., FastAPI], type[Settings]]] = {
    "gateway": (gateway_app, GatewaySettings),
    "accounts": (accounts_app, Settings),
    "payments": (payments_app, PaymentsSettings),
    "securities": (securities_app, SecuritiesSettings),
    "insurance": (insurance_app, InsuranceSettings),
}
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# Code that reads the header itself rather than through shared/idempotency.py's dependencies.
READS_KEY = re.compile(r"""read_key\(|require_key\(|["']idempotency-key["']""", re.IGNORECASE)
REQUIRES_KEY = re.compile(r"require_key\(")


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    directory: Path = tmp_path_factory.mktemp("openapi")
    return {
        name: create(cls(service=name, db=DbSettings(url=f"sqlite+aiosqlite:///{directory / name}.db")))
        for name, (create, cls) in APPS.items()
    }


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _calls(dependant: Dependant) -> Iterator[Any]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _source(call: Any) -> str:
    try:
        return inspect.getsource(call)
    except (OSError, TypeError):
        return ""


def _key_reading(dependant: Dependant) -> str | None:
    """How a route reads Idempotency-Key: "required", "optional", or None when it does not."""
    calls = list(_calls(dependant))
    own = "\n".join(_source(c) for c in calls if c not in (idempotency._required, idempotency._optional))
    if idempotency._required in calls or REQUIRES_KEY.search(own):
        return "required"
    if idempotency._optional in calls or READS_KEY.search(own):
        return "optional"
    return None


@pytest.mark.parametrize("name", APPS)
def test_a_route_that_reads_the_idempotency_key_declares_it(apps: dict[str, FastAPI], name: str) -> None:
    app = apps[name]
    document = app.openapi()
    wrong = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None or dependant is None:
                continue
            declared = [
                p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "Idempotency-Key"
            ]
            reads = _key_reading(dependant)
            says = None if not declared else "required" if declared[0]["required"] else "optional"
            if reads != says or (declared and not declared[0].get("description")):
                wrong.append((method, route.path_format, f"reads: {reads}, documents: {says}"))
    assert wrong == []


def test_the_money_moving_routes_are_found_reading_the_key(apps: dict[str, FastAPI]) -> None:
    """The check above sees the routes it is about (it would pass on an app that read none)."""
    transfers = apps["gateway"].openapi()["paths"]["/v1/payments/transfers"]["post"]
    deposits = apps["payments"].openapi()["paths"]["/v1/sandbox/deposits"]["post"]

    assert [p["required"] for p in transfers["parameters"] if p["name"] == "Idempotency-Key"] == [True]
    assert [p["required"] for p in deposits["parameters"] if p["name"] == "Idempotency-Key"] == [False]


@pytest.mark.parametrize("name", APPS)
def test_every_documented_error_answer_is_problem_json(apps: dict[str, FastAPI], name: str) -> None:
    document = apps[name].openapi()
    wrong = []
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if path == "/readyz" and status == "503":
                continue  # the failed checks, for probes
            content = {media: {"schema": v.get("schema")} for media, v in response.get("content", {}).items()}
            if status[0] in "45" and content != PROBLEM_CONTENT:
                wrong.append((method, path, status, sorted(content)))
    assert wrong == []
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["properties"]["status"]["type"] == "integer"


@pytest.mark.parametrize("name", APPS)
def test_routes_document_the_answers_their_rules_give(apps: dict[str, FastAPI], name: str) -> None:
    """No token 401, a path id 404, a cursor 400, a body or parameter 422, and the
    gateway's rate limit 429 with Retry-After."""
    wrong = []
    for method, path, operation in _operations(apps[name].openapi()):
        if "health" in operation.get("tags", ()):
            continue
        answers = operation["responses"]
        params = {p["name"] for p in operation.get("parameters", [])}
        expected = {"404"} if "{" in path else set()
        if "cursor" in params:
            expected.add("400")
        if params or "requestBody" in operation:
            expected.add("422")
        if name == "gateway":
            expected.add("429")
        if not expected <= set(answers):
            wrong.append((method, path, sorted(expected - set(answers))))
        if "429" in answers and "Retry-After" not in answers["429"].get("headers", {}):
            wrong.append((method, path, "429 without Retry-After"))
    assert wrong == []


@pytest.mark.parametrize("name", APPS)
def test_routes_that_take_a_json_body_document_its_refusals(apps: dict[str, FastAPI], name: str) -> None:
    """A JSON body that is not JSON, not UTF-8 or names a member twice is a 400, one sent
    as another type or with none a 415 (shared/web.py's `JsonBodyRule`)."""
    wrong, found = [], 0
    for method, path, operation in _operations(apps[name].openapi()):
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            found += 1
            if missing := sorted({"400", "415"} - set(operation["responses"])):
                wrong.append((method, path, missing))
    assert found and wrong == []


def _rows() -> list[PassThrough]:
    """The rows whose service documents the same operation (not a stream, not an /internal route)."""
    rows = (*ROUTES, *DEPOSIT_ROUTES, *OPS_ROUTES)
    return [r for r in rows if not r.stream and not (r.upstream or r.path).startswith("/internal/")]


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r.method} {r.path}")
def test_a_pass_through_row_documents_what_its_service_answers_and_takes(
    apps: dict[str, FastAPI], row: PassThrough
) -> None:
    public = apps["gateway"].openapi()["paths"][row.path][row.method.lower()]
    upstream = apps[row.service].openapi()["paths"][row.upstream or row.path][row.method.lower()]

    assert sorted(set(upstream["responses"]) - set(public["responses"])) == []
    taken = {(p["in"], p["name"]) for p in upstream.get("parameters", [])}
    assert sorted(taken - {(p["in"], p["name"]) for p in public.get("parameters", [])}) == []
