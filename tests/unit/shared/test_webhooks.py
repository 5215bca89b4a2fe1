"""Signing and verifying webhook deliveries (shared/webhooks.py): what a receiver checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.webhooks import WebhookVerificationError, parse, sign, signature, verify

BODY = b'{"id":"evt_1","type":"payment_received","created":1764079262,"data":{"amount":"88.80"}}'
SECRET = "whsec_current"
OLD = "whsec_previous"
T = 1_764_079_262


def test_a_signed_delivery_verifies_and_answers_its_timestamp() -> None:
    assert verify(BODY, sign(BODY, [SECRET], T), SECRET, now=T + 10) == T


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # Computed independently with: printf '%s' "$T.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, [SECRET], T) == f"t={T},v1={expected}"
    assert signature(BODY, SECRET, T) == expected


def test_a_tampered_body_is_refused() -> None:
    header = sign(BODY, [SECRET], T)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(BODY.replace(b"88.80", b"99.80"), header, SECRET, now=T)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(BODY, sign(BODY, [SECRET], T), "whsec_someone-else", now=T)


def test_a_moved_timestamp_is_refused() -> None:
    header = sign(BODY, [SECRET], T).replace(f"t={T}", f"t={T + 1}")
    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, SECRET, now=T)


@pytest.mark.parametrize("age_s", [301, -301, 86_400])
def test_a_delivery_outside_the_tolerance_is_refused(age_s: int) -> None:
    with pytest.raises(WebhookVerificationError, match="from now"):
        verify(BODY, sign(BODY, [SECRET], T), SECRET, now=T + age_s)


def test_the_tolerance_is_the_receivers_choice() -> None:
    header = sign(BODY, [SECRET], T)
    assert verify(BODY, header, SECRET, tolerance_s=3600, now=T + 3000) == T
    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, SECRET, tolerance_s=10, now=T + 11)


def test_during_a_rotation_either_secret_verifies() -> None:
    header = sign(BODY, [SECRET, OLD], T)
    assert len(parse(header)[1]) == 2
    assert verify(BODY, header, SECRET, now=T) == T
    assert verify(BODY, header, OLD, now=T) == T
    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, "whsec_neither", now=T)


def test_after_a_rotation_the_old_secret_no_longer_verifies() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(BODY, sign(BODY, [SECRET], T), OLD, now=T)


@pytest.mark.parametrize(
    "header",
    ["", "v1=abc", f"t={T}", "t=soon,v1=abc", "t=\uff11\uff12,v1=abc", f"t={T},v0=abc", "garbage"],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, SECRET, now=T)


def test_unknown_schemes_beside_v1_are_ignored() -> None:
    header = sign(BODY, [SECRET], T) + ",v2=future-scheme"
    assert verify(BODY, header, SECRET, now=T) == T


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        sign(BODY, [], T)


def _documented_recipe() -> Callable[..., int]:
    """The `verify` of docs/webhooks.md's Python recipe, as a reader would copy it."""
    page = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", page, re.DOTALL) if "def verify" in block)
    scope: dict[str, Any] = {}
    exec(code, scope)
    recipe: Callable[..., int] = scope["verify"]
    return recipe


def test_the_documented_recipe_agrees_with_the_signer() -> None:
    recipe = _documented_recipe()
    assert recipe(BODY, sign(BODY, [SECRET, OLD], T), OLD, now=T + 5) == T
    for body, header, secret, now in [
        (BODY + b" ", sign(BODY, [SECRET], T), SECRET, T),
        (BODY, sign(BODY, [SECRET], T), OLD, T),
        (BODY, sign(BODY, [SECRET], T), SECRET, T + 301),
        (BODY, "t=soon,v1=abc", SECRET, T),
    ]:
        with pytest.raises(ValueError):
            recipe(body, header, secret, now=now)
