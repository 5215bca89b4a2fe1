"""The rules of webhooks without I/O: endpoint URLs and event types taken, the backoff,
where a delivery stands after an attempt, and which secrets sign it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gateway.webhooks import rules

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/hooks/sandbank",
        "http://127.0.0.1:8765/",
        "http://localhost:3000/webhooks?source=sandbank",
        "https://[::1]:8443/hook",
    ],
)
def test_http_and_https_urls_are_taken(url: str) -> None:
    assert rules.check_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("https:///hook", "no host"),
        ("https://user:pass@example.com/hook", "user name or password"),
        ("https://token@example.com/hook", "user name or password"),
        ("https://example.com/hook#part", "fragment"),
        ("https://example.com:99999/hook", "cannot be read"),
        ("https://example.com:0/hook", "port"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com/\nhook", "spaces"),
        ("https://example.com/" + "a" * 2048, "longer than"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(rules.InvalidEndpoint, match=why):
        rules.check_url(url)


def test_event_types_are_the_notification_kinds_or_every_one() -> None:
    assert rules.check_events(["payment_received", "*", "payment_received"]) == ["payment_received", "*"]
    with pytest.raises(rules.UnknownEventType) as refused:
        rules.check_events(["payment_received", "horoscope"])
    assert refused.value.facts == {"event_types": ["horoscope"]}


@pytest.mark.parametrize(
    ("subscribed", "kind", "wanted"),
    [
        (["*"], "claim_paid", True),
        (["payment_received"], "payment_received", True),
        (["payment_received"], "payment_failed", False),
        ([], "payment_failed", False),
    ],
)
def test_an_endpoint_wants_what_it_subscribed_to(subscribed: list[str], kind: str, wanted: bool) -> None:
    assert rules.wants(subscribed, kind) is wanted


def test_the_backoff_doubles_up_to_its_cap() -> None:
    assert [rules.retry_delay_s(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_a_delivery_is_tried_until_the_last_attempt_then_failed() -> None:
    kw = {"max_attempts": 3, "base_s": 1.0, "cap_s": 60.0}
    assert rules.after_attempt(1, False, NOW, **kw) == rules.Outcome("pending", NOW + timedelta(seconds=1))
    assert rules.after_attempt(2, False, NOW, **kw) == rules.Outcome("pending", NOW + timedelta(seconds=2))
    assert rules.after_attempt(3, False, NOW, **kw) == rules.Outcome("failed", None)
    assert rules.after_attempt(3, True, NOW, **kw) == rules.Outcome("succeeded", None)


@pytest.mark.parametrize(
    ("code", "ok"), [(200, True), (204, True), (299, True), (301, False), (500, False), (None, False)]
)
def test_only_a_2xx_answer_is_success(code: int | None, ok: bool) -> None:
    assert rules.succeeded(code) is ok


def test_the_old_secret_signs_only_during_its_grace_period() -> None:
    until = NOW + timedelta(hours=1)
    assert rules.signing_secrets("new", "old", until, NOW) == ["new", "old"]
    assert rules.signing_secrets("new", "old", until, until) == ["new"]
    assert rules.signing_secrets("new", None, None, NOW) == ["new"]


def test_the_event_body_carries_the_notification_and_whose_it_is() -> None:
    notification = {
        "id": 42,
        "customer_id": "c-1",
        "kind": "payment_received",
        "title": "Money received",
        "body": "You received 1.00 CNY.",
        "data": {"payment_id": "p-1", "customer_id": "someone-else"},
    }
    body = orjson.loads(rules.event_body("evt_1", "payment_received", NOW, rules.notification_data(notification)))
    assert body == {
        "id": "evt_1",
        "type": "payment_received",
        "created": int(NOW.timestamp()),
        "data": {
            "title": "Money received",
            "body": "You received 1.00 CNY.",
            "payment_id": "p-1",
            "customer_id": "c-1",
            "notification_id": 42,
        },
    }


def test_secrets_and_event_ids_are_new_each_time() -> None:
    assert rules.new_secret().startswith("whsec_") and rules.new_secret() != rules.new_secret()
    assert rules.new_event_id().startswith("evt_") and rules.new_event_id() != rules.new_event_id()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8001/internal/reset",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://metadata.google.internal/hook",
    ],
)
def test_outside_a_sandbox_local_addresses_are_refused(url: str) -> None:
    assert rules.check_url(url) == url  # a sandbox delivers there
    with pytest.raises(rules.InvalidEndpoint, match="loopback, private or reserved"):
        rules.check_url(url, local_allowed=False)


@pytest.mark.parametrize(
    "url", ["https://shop.example.com/hooks", "https://93.184.215.14/hook", "https://[2606:4700::1]/"]
)
def test_outside_a_sandbox_public_addresses_are_taken(url: str) -> None:
    assert rules.check_url(url, local_allowed=False) == url
