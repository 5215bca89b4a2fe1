"""An app against its own OpenAPI document, with schemathesis: for each operation a
bounded number of requests generated from the document (valid ones, and ones that break
it), sent through the test's own httpx client (in-process over ASGI, or over real HTTP to
the e2e stack), each answer checked: no server error, a documented status, content type,
body and headers.

Generation is derandomized (the same requests every run); the requests go out one at a
time on the test's event loop, so an app inside its lifespan serves them as it serves
the rest of its tests.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Valid requests find wrong answers to the requests a client makes; invalid ones find
# refusals that are not 4xx problems.
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

# `make test` sends a quarter of each test's budget (the same derandomized first requests);
# `make conformance` (CI runs it after `make test`) sends all of it.
FULL = os.environ.get("SANDBANK_CONFORMANCE") == "full"


def budget(full: int) -> int:
    """Requests per operation and mode: `full` under `make conformance`, else a quarter."""
    return full if FULL else max(2, full // 4)


# schemathesis draws some values with `random` (seeded by Hypothesis, so still the same each run).
QUIET = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)
# A stream that answers 200 never ends: its refusals are tested beside it (test_market.py,
# tests/e2e/test_notifications.py).
STREAM = "a Server-Sent Events stream: an answer that never ends"

# The headers an operation's requests carry (its caller's token), awaited per request.
Auth = Callable[[APIOperation], Awaitable[Mapping[str, str]]]


@dataclass
class Report:
    operations: int = 0
    sent: int = 0
    unsendable: int = 0  # generated headers or URLs no HTTP client can put on the wire
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def assert_as_documented(self) -> None:
        print(self.summary())
        assert not self.failures, f"{len(self.failures)} answers broke the document:\n\n" + "\n\n".join(self.failures)

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.operations} operations, {self.sent} requests ({self.unsendable} unsendable) "
            f"in {self.seconds:.1f} s; {statuses}"
        )


def label(operation: APIOperation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def breakable(operation: dict[str, Any]) -> bool:
    """Whether a request can break the operation's document at all: a body, a query or
    header parameter, or a path parameter with a constraint (any text is a valid string)."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter["in"] != "path" or schema.get("type") != "string" or set(schema) - {"type", "title"}:
            return True
    return "requestBody" in operation


def generate(
    operation: APIOperation, mode: GenerationMode, max_examples: int, adjust: Callable[[Case], Case] | None = None
) -> list[Case]:
    cases: list[Case] = []
    strategy = operation.as_strategy(mode)

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy.map(adjust) if adjust is not None else strategy)
    def collect(case: Case) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:  # nothing to break: an operation without parameters or body
        assert mode == GenerationMode.NEGATIVE, label(operation)
    return cases


async def _send(client: httpx.AsyncClient, case: Case, auth: Mapping[str, str]) -> httpx.Response:
    sent = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
    body: dict[str, Any] = {}
    if "json" in sent:
        body["json"] = sent["json"]
    elif sent.get("data") is not None:
        data = sent["data"]
        body["content"] = data.encode() if isinstance(data, str) else data
    return await client.request(
        sent["method"],
        sent["url"],
        params=sent.get("params"),
        headers={**sent.get("headers", {}), **auth},
        cookies=sent.get("cookies") or None,
        **body,
    )


async def check_app(
    client: httpx.AsyncClient,
    document: dict[str, Any],
    auth: Auth,
    *,
    max_examples: int,
    skip: Mapping[str, str] = {},
    adjust: Callable[[Case], Case] | None = None,
) -> Report:
    """Every operation of `document` but those in `skip` (label: why), each with up to
    `max_examples` requests per mode (changed by `adjust`, where given); what each
    answer broke is in `failures`."""
    report = Report()
    started = time.monotonic()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert set(skip) <= {label(o) for o in operations}, "skip names an operation the document does not have"
    for operation in operations:
        if label(operation) in skip:
            continue
        report.operations += 1
        documented = document["paths"][operation.path][operation.method.lower()]
        for mode in MODES if breakable(documented) else MODES[:1]:
            # Off the event loop: the apps' own loops (consumers, relays) go on meanwhile.
            cases = await asyncio.to_thread(generate, operation, mode, max_examples, adjust)
            for case in cases:
                headers = await auth(operation)
                try:
                    response = await _send(client, case, headers)
                except (UnicodeEncodeError, httpx.InvalidURL, httpx.LocalProtocolError):
                    report.unsendable += 1
                    continue
                report.sent += 1
                report.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=dict(response.request.headers))
                except FailureGroup as failed:
                    report.failures.append(f"{label(operation)} ({mode.value}): {failed}")
    report.seconds = time.monotonic() - started
    return report
