"""Who a process believes: tokens signed by a process it knows, for itself, and a person
only on the gateway's word."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import keys, stepup
from shared.auth import TokenIssuer
from shared.keys import Keyring, MissingKeys
from shared.problems import Problem
from shared.settings import AuthSettings
from tests.tokens import issuer

# The development secret every process accepted before keys were made per stack.
PUBLISHED_SECRET = "sandbank-development-secret-change-me-0123456789"


def refused(verifier: TokenIssuer, token: str) -> str:
    with pytest.raises(Problem) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    return str(caught.value.detail)


def test_a_service_acts_on_the_gateways_word_for_it() -> None:
    token = issuer("gateway").issue("c-1", ["customer"], audience="payments", session_id="s-1")

    principal = issuer("payments").verify(token)

    assert (principal.subject, principal.roles, principal.session_id, principal.issuer) == (
        "c-1",
        frozenset({"customer"}),
        "s-1",
        "gateway",
    )


def test_the_phones_own_token_is_refused_by_every_service() -> None:
    phones = issuer("gateway").issue("c-1", ["customer"], audience="gateway", session_id="s-1")

    assert issuer("gateway").verify(phones).subject == "c-1"
    for service in ("accounts", "payments", "securities", "insurance"):
        assert refused(issuer(service), phones) == f"the token is not for {service}"


def test_a_token_for_one_service_is_refused_by_another() -> None:
    token = issuer("gateway").issue("c-1", ["customer"], audience="accounts")

    refused(issuer("payments"), token)


@pytest.mark.parametrize("roles", [["customer"], ["operator"], ["adjuster"], ["service"]])
def test_only_the_gateway_vouches_for_a_person(roles: list[str]) -> None:
    token = issuer("payments").issue("c-1", roles, audience="accounts")

    refused(issuer("accounts"), token)


def test_a_service_token_speaks_only_for_its_signer() -> None:
    own = issuer("payments").service_token("accounts")
    posing = issuer("payments").issue("service:securities", ["service"], audience="accounts")

    assert issuer("accounts").verify(own).subject == "service:payments"
    refused(issuer("accounts"), posing)


def test_the_published_development_secret_signs_nothing_anyone_accepts() -> None:
    claims = {"iss": "sandbank", "sub": "operator-1", "roles": ["operator"], "exp": int(time.time()) + 600}
    for aud in ("gateway", "accounts"):
        forged = jwt.encode({**claims, "aud": aud}, PUBLISHED_SECRET, algorithm="HS256", headers={"kid": "gateway"})
        refused(issuer(aud), forged)


def test_a_key_the_stack_did_not_make_signs_nothing() -> None:
    stranger = Ed25519PrivateKey.generate()
    claims = {"iss": "gateway", "aud": "accounts", "sub": "c-1", "roles": ["customer"], "exp": int(time.time()) + 60}

    forged = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "gateway"})

    refused(issuer("accounts"), forged)


def test_an_unsigned_token_is_refused() -> None:
    claims = {"iss": "gateway", "aud": "accounts", "sub": "c-1", "roles": ["customer"], "exp": int(time.time()) + 60}

    refused(issuer("accounts"), jwt.encode(claims, None, algorithm="none", headers={"kid": "gateway"}))


def test_an_expired_token_is_refused() -> None:
    token = issuer("gateway").issue("c-1", ["customer"], audience="accounts", ttl_s=-1)

    assert "expired" in refused(issuer("accounts"), token)


def check(token: str, customer_id: str, a: stepup.Approved) -> None:
    """Payments' check of `token` for the payment `a` describes, above the step-up amount."""
    required = stepup.Required(
        stepup.Payment(a.operation, a.payee, a.amount_minor, a.currency, a.payer), "amount", 500_000
    )
    stepup.check_approval(issuer("payments"), token, customer_id, required, a.idempotency_key)


def test_a_step_up_approval_is_not_a_login() -> None:
    approved = stepup.Approved("transfer", "account:a-2", 600_000, "CNY", "a-1", "key-1")
    token = stepup.approval(issuer("gateway"), "c-1", approved, ttl_s=300)

    refused(issuer("payments"), token)
    check(token, "c-1", approved)


@pytest.mark.parametrize(
    "other",
    [
        stepup.Approved("transfer", "account:a-3", 600_000, "CNY", "a-1", "key-1"),
        stepup.Approved("transfer", "account:a-2", 600_001, "CNY", "a-1", "key-1"),
        stepup.Approved("transfer", "account:a-2", 600_000, "CNY", "a-1", "key-2"),
        stepup.Approved("bill", "account:a-2", 600_000, "CNY", "a-1", "key-1"),
        stepup.Approved("transfer", "account:a-2", 600_000, "CNY", "a-9", "key-1"),  # from another account
    ],
)
def test_an_approval_covers_exactly_its_payment(other: stepup.Approved) -> None:
    approved = stepup.Approved("transfer", "account:a-2", 600_000, "CNY", "a-1", "key-1")
    token = stepup.approval(issuer("gateway"), "c-1", approved, ttl_s=300)

    with pytest.raises(stepup.StepUpMissing):
        check(token, "c-1", other)
    with pytest.raises(stepup.StepUpMissing):
        check(token, "c-2", approved)


def test_an_approval_minted_by_another_process_is_refused() -> None:
    approved = stepup.Approved("transfer", "account:a-2", 600_000, "CNY", "a-1", "key-1")
    token = issuer("accounts").issue("c-1", [], audience="payments", extra={"step_up": approved.claims()})

    with pytest.raises(stepup.StepUpMissing):
        check(token, "c-1", approved)


def test_minted_tokens_are_reused_while_they_have_life_left() -> None:
    gateway = TokenIssuer(Keyring.load(os.environ["AUTH_KEYS_DIR"], "gateway"), AuthSettings())

    assert gateway.service_token("accounts") == gateway.service_token("accounts")
    assert gateway.service_token("accounts") != gateway.service_token("payments")


def test_a_process_without_its_key_refuses_to_start_and_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(MissingKeys, match="sandbank keys"):
        Keyring.load(tmp_path, "payments")


def test_keys_are_made_once_and_the_private_ones_are_private(tmp_path: Path) -> None:
    assert keys.generate(tmp_path) == list(keys.PROCESSES)
    first = (tmp_path / "gateway.key").read_bytes()

    assert keys.generate(tmp_path) == []
    assert (tmp_path / "gateway.key").read_bytes() == first
    assert stat.S_IMODE((tmp_path / "gateway.key").stat().st_mode) == 0o600
    assert Keyring.load(tmp_path, "accounts").public.keys() == set(keys.PROCESSES)
