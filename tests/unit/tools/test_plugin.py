"""The pytest plugin without a stack: a shared stack's clock, faults and reset refused
before any request, the choice of stack per worker, and the webhook receiver checking
signatures made as the gateway makes them (shared.webhooks) on a real loopback server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from sandbank_testing import Sandbank, SharedStackError, WebhookReceiver
from sandbank_testing import webhooks as receiving
from shared import webhooks

pytest_plugins = ["pytester"]

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a test passing with it made no request
SECRET = "whsec_test-secret"


@pytest.mark.parametrize(
    ("control", "what"),
    [
        (lambda bank: bank.reset(), "a reset"),
        (lambda bank: bank.clock.advance(days=1), "moving the clock"),
        (lambda bank: bank.clock.set("2099-01-01T00:00:00+00:00"), "moving the clock"),
        (lambda bank: bank.set_fault("payments", "drop"), "a drop fault on payments"),
        (lambda bank: bank.fault("payments", "delay").__enter__(), "a delay fault on payments"),
        (lambda bank: bank.clear_faults(), "clearing faults"),
    ],
)
def test_a_shared_stack_refuses_what_reaches_every_suite(control: Callable[[Sandbank], Any], what: str) -> None:
    with pytest.raises(SharedStackError, match=f"{what} would reach every suite .* --sandbank-exclusive"):
        control(Sandbank(NOWHERE, exclusive=False))


def test_a_stack_of_ones_own_asks_the_bank() -> None:
    with pytest.raises(httpx.ConnectError):
        Sandbank(NOWHERE).reset()


@pytest.fixture
def ready_gateway() -> Iterator[str]:
    """A gateway that only answers /readyz: enough for the plugin to attach to it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/readyz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def suite_that_resets(
    pytester: pytest.Pytester, ready_gateway: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A suite of one test that resets the stack at SANDBANK_URL."""
    monkeypatch.setenv("SANDBANK_URL", ready_gateway)
    for name in ("SANDBANK_EXCLUSIVE", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_reset(sandbank):\n    sandbank.reset()\n")
    return pytester


def test_a_suite_attached_to_a_shared_stack_is_told_why_it_may_not_reset(suite_that_resets: pytest.Pytester) -> None:
    result = suite_that_resets.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SharedStackError: a reset would reach every suite using the Sandbank at*"])


@pytest.mark.parametrize(("option", "env"), [(["--sandbank-exclusive"], "0"), ([], "1"), ([], "true")])
def test_a_suite_that_says_the_stack_is_its_own_may_reset_it(
    suite_that_resets: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, option: list[str], env: str
) -> None:
    monkeypatch.setenv("SANDBANK_EXCLUSIVE", env)

    result = suite_that_resets.runpytest("-p", "no:cacheprovider", *option)

    # Not refused: it went on to log the operator in, which this gateway cannot do.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SandbankError: POST /v1/auth/login answered 404*"])
    assert "SharedStackError" not in result.stdout.str()


def test_workers_sharing_a_stack_cannot_call_it_their_own(
    suite_that_resets: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")

    result = suite_that_resets.runpytest("-p", "no:cacheprovider", "--sandbank-exclusive")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--sandbank-exclusive, but 2 pytest-xdist workers share the Sandbank at*"])


# -- the webhook receiver ----------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    got = WebhookReceiver().start()
    got.use_secret(SECRET)
    try:
        yield got
    finally:
        got.close()


def deliver(receiver: WebhookReceiver, event: dict[str, Any], secrets: list[str] | None = None, t: int = 0) -> int:
    """POST `event` as the gateway's delivery worker would, signed with `secrets`."""
    body = json.dumps(event).encode()
    header = webhooks.sign(body, secrets or [SECRET], t or int(time.time()))
    headers = {"content-type": "application/json", webhooks.SIGNATURE_HEADER: header}
    return httpx.post(receiver.url, content=body, headers=headers, trust_env=False).status_code


def event(kind: str = "payment_sent", **data: Any) -> dict[str, Any]:
    return {"id": f"evt_{kind}_{len(data)}", "type": kind, "created": int(time.time()), "data": data}


def test_a_signed_delivery_is_kept_and_answered_200(receiver: WebhookReceiver) -> None:
    assert deliver(receiver, event("payment_sent", payment_id="p-1")) == 200

    assert receiver.expect("payment_sent", within=1)["data"] == {"payment_id": "p-1"}
    assert receiver.refused == []


def test_expect_waits_for_an_event_still_to_come(receiver: WebhookReceiver) -> None:
    later = threading.Timer(0.3, deliver, args=(receiver, event("claim_paid", claim_id="c-1")))
    later.start()

    got = receiver.expect("claim_paid", within=5, where=lambda e: e["data"]["claim_id"] == "c-1")

    assert got["type"] == "claim_paid"
    later.join()


@pytest.mark.parametrize(
    ("secrets", "age_s"), [(["whsec_someone-else"], 0), ([SECRET], 3_600)], ids=["other secret", "too old"]
)
def test_a_delivery_that_does_not_verify_is_refused_400(
    receiver: WebhookReceiver, secrets: list[str], age_s: int
) -> None:
    assert deliver(receiver, event(), secrets, t=int(time.time()) - age_s) == 400

    assert receiver.events == []
    assert len(receiver.refused) == 1


def test_a_delivery_signed_with_the_old_and_the_new_secret_verifies(receiver: WebhookReceiver) -> None:
    assert deliver(receiver, event(), ["whsec_the-new-one", SECRET]) == 200


def test_expect_fails_saying_what_did_arrive(receiver: WebhookReceiver) -> None:
    deliver(receiver, event("payment_received", payment_id="p-2"))
    deliver(receiver, event("payment_sent"), ["whsec_forged"])

    with pytest.raises(AssertionError) as failed:
        receiver.expect("payment_sent", within=0.2, where=lambda e: e["data"].get("payment_id") == "p-9")

    message = str(failed.value)
    assert "a payment_sent event matching `where` did not arrive within 0.2s" in message
    assert 'payment_received evt_payment_received_1 {"payment_id": "p-2"}' in message
    assert "1 refused, their signatures did not verify:\n  no signature matches" in message


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda body, header: (body + b" ", header), "no signature matches"),
        (lambda body, header: (body, header.replace("t=", "x=")), "malformed"),
        (lambda body, header: (body, "v1=" + "0" * 64), "malformed"),
    ],
)
def test_the_copied_recipe_agrees_with_the_signer(
    tamper: Callable[[bytes, str], tuple[bytes, str]], message: str
) -> None:
    body, t = b'{"id":"evt_1"}', int(time.time())
    header = webhooks.sign(body, [SECRET], t)

    assert receiving.verify(body, header, SECRET) == webhooks.verify(body, header, SECRET) == t
    with pytest.raises(ValueError, match=message):
        receiving.verify(*tamper(body, header), SECRET)
