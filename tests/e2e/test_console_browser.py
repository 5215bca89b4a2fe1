"""The operator console in a real browser: Playwright drives Debian's Chromium
(/usr/bin/chromium, installed by .ci/run; no browser download) against the stack.

`SANDBANK_CONSOLE_SCREENSHOT=docs/img/console-flow.png` also writes the payment's
sequence diagram there, and `SANDBANK_COMPLIANCE_SCREENSHOT=docs/img/console-compliance.png`
the Compliance tab: how the pictures of the README and docs/compliance.md are made again."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, Route, async_playwright

from shared.auth import ROLE_OPERATOR, TokenIssuer
from shared.keys import GATEWAY, Keyring
from shared.sandbox import OPERATOR
from shared.settings import AuthSettings
from tests.e2e.phone import Phone, register_and_login
from tools.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

# Every hop of a transfer, as the sequence diagram draws them: (from, to).
TRANSFER_HOPS = (
    ("phone", "gateway"),
    ("gateway", "payments"),
    ("payments", "accounts.commands"),
    ("accounts.commands", "accounts"),
    ("accounts", "accounts.events"),
    ("accounts.events", "payments"),
    ("payments", "payments.events"),
    ("payments.events", "gateway"),
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def logged_in(browser: Browser, stack: Stack) -> Page:
    page = await browser.new_page(viewport={"width": 1500, "height": 1100})
    await page.goto(f"{stack.gateway_url}/console")
    await page.fill("#phone", OPERATOR.phone)
    await page.fill("#password", OPERATOR.password)
    await page.click("#login-button")
    await page.wait_for_selector("#console:not([hidden])", timeout=10_000)
    await page.wait_for_selector("#system [data-process='payments']", timeout=10_000)
    return page


async def funded_pair(gateway: httpx.AsyncClient) -> tuple[Phone, str, str]:
    payer, payee = await register_and_login(gateway), await register_and_login(gateway)
    source, target = await payer.open_account(), await payee.open_account()
    await payer.settled((await payer.deposit(source["id"], "80.00"))["id"])
    return payer, source["id"], target["id"]


async def pay(payer: Phone, source: str, target: str) -> str:
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source, "payee_account_id": target, "amount": "4.00"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def hop(source: str, target: str) -> str:
    return f"#flow .hop-row[data-source='{source}'][data-target='{target}']"


async def test_a_transfer_found_in_the_feed_opens_its_whole_sequence_diagram(
    stack: Stack, gateway: httpx.AsyncClient, browser: Browser, tmp_path: Path
) -> None:
    page = await logged_in(browser, stack)
    payer, source, target = await funded_pair(gateway)
    payment_id = await pay(payer, source, target)

    completed = f"#feed tbody tr[data-key='{payment_id}']:has-text('PaymentCompleted')"
    await page.wait_for_selector(completed, timeout=20_000)
    await page.click(completed)
    # How fast the diagram draws is a benchmark's question, not this test's: the limits
    # below only keep a busy machine from failing it.
    for source_name, target_name in TRANSFER_HOPS:
        await page.wait_for_selector(hop(source_name, target_name), timeout=10_000)
    await page.wait_for_selector("#flow-outcome:has-text('outcome: completed')", timeout=10_000)
    assert page.url.endswith(f"#/flow/{payment_id}")
    await page.locator("#flow-panel").screenshot(path=str(tmp_path / "console-flow.png"))
    if wanted := os.environ.get("SANDBANK_CONSOLE_SCREENSHOT"):
        await page.locator("#flow-panel").screenshot(path=wanted)

    # The link `make demo` prints opens the same diagram straight away.
    direct = await browser.new_page()
    await direct.goto(f"{stack.gateway_url}/console#/flow/{payment_id}")
    await direct.fill("#phone", OPERATOR.phone)
    await direct.fill("#password", OPERATOR.password)
    await direct.click("#login-button")
    await direct.wait_for_selector(hop("payments.events", "gateway"), timeout=5_000)


async def test_a_dropped_reply_shows_the_sagas_retry(
    stack: Stack, gateway: httpx.AsyncClient, operator_headers: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    page = await logged_in(browser, stack)
    payer, source, target = await funded_pair(gateway)
    await page.select_option("#fault-form [name=service]", "accounts")
    await page.select_option("#fault-form [name=mode]", "drop")
    await page.fill("#fault-form [name=duration_s]", "3")
    await page.click("#fault-button")
    await page.wait_for_selector("#faults [data-fault='accounts']:has-text('drop')", timeout=5_000)
    try:
        payment_id = await pay(payer, source, target)
        await page.fill("#flow-id", payment_id)
        await page.click("#flow-form button")
        # The sweeper sends the step again once its reply is overdue; the diagram, which
        # the page reads again every 1.5 s, shows it, and then the saga's end.
        await page.wait_for_selector("#flow .note:has-text('saga retry')", timeout=45_000)
        await page.wait_for_selector("#flow-outcome:has-text('outcome: completed')", timeout=30_000)
        # The request's own trace (found by its messages' key) and the sweeper's retry.
        await page.wait_for_selector(hop("phone", "gateway"), timeout=10_000)
        await page.wait_for_selector(
            f"#feed tbody tr[data-key='{payment_id}']:has-text('PaymentStepRetried')", timeout=5_000
        )
        await page.screenshot(path=str(tmp_path / "console-retry.png"), full_page=True)
    finally:
        r = await gateway.post(
            "/v1/sandbox/faults", json={"service": "accounts", "mode": "none"}, headers=operator_headers
        )
        assert r.status_code == 200, r.text


async def test_a_compliance_officer_closes_an_alert_checks_the_chain_and_freezes_an_account(
    stack: Stack, gateway: httpx.AsyncClient, browser: Browser, tmp_path: Path
) -> None:
    page = await logged_in(browser, stack)
    customer = await register_and_login(gateway)
    account = (await customer.open_account())["id"]
    # A deposit ending in .71 fen: the sandbox's forced large-cash alert (docs/sandbox.md).
    await customer.settled((await customer.deposit(account, "100.71"))["id"])

    await page.click("#tabs [data-tab='compliance']")
    await page.wait_for_selector("#alerts-panel:not([hidden])", timeout=2_000)
    assert await page.is_hidden("#flow-panel")
    await page.fill("#alert-filters [name=customer_id]", customer.customer_id)
    await page.click("#alert-filters button")
    alert = "#alerts tbody tr[data-status='open']:has-text('large_cash')"
    await page.wait_for_selector(alert, timeout=15_000)
    await page.click(alert)
    await page.wait_for_selector("#evidence .flow-link", timeout=5_000)
    await page.click("#alert-take")
    await page.wait_for_selector("#alert[data-status='under_review']", timeout=5_000)
    await page.fill("#alert-decide [name=note]", "a sandbox deposit, nothing to report")
    await page.click("#alert-decide button[value='dismissed']")
    await page.wait_for_selector("#alert[data-status='dismissed']", timeout=5_000)
    await page.wait_for_selector(alert, state="detached", timeout=5_000)

    await page.click("#audit-verify")
    await page.wait_for_selector("#audit-verdict.ok", timeout=10_000)
    for process in ("gateway", "accounts", "payments"):
        await page.wait_for_selector(f"#audit-chains li.ok[data-chain='{process}']", timeout=1_000)

    await page.fill("#freeze-form [name=account_id]", account)
    await page.select_option("#freeze-form [name=mode]", "full")
    await page.fill("#freeze-form [name=reason]", "held for review")
    await page.click("#freeze-form button")
    frozen = f"#frozen tr[data-frozen='{account}']"
    await page.wait_for_selector(f"{frozen}:has-text('held for review')", timeout=5_000)
    assert (await customer.get(f"/v1/accounts/{account}")).json()["freeze"]["mode"] == "full"
    await page.fill("#audit-filters [name=customer_id]", customer.customer_id)
    await page.click("#audit-filters button")
    await page.wait_for_selector("#audit tr[data-action='account.frozen']", timeout=5_000)
    await page.screenshot(path=str(tmp_path / "console-compliance.png"), full_page=True)
    if wanted := os.environ.get("SANDBANK_COMPLIANCE_SCREENSHOT"):
        await page.screenshot(path=wanted, full_page=True)
    await page.fill(f"{frozen} [name=reason]", "review closed")
    await page.click(f"{frozen} button")
    await page.wait_for_selector(frozen, state="detached", timeout=5_000)
    assert (await customer.get(f"/v1/accounts/{account}")).json()["freeze"] is None

    # The evidence's link opens the deposit's flow on the operations tab.
    await page.click("#alerts-panel .flow-link")
    await page.wait_for_selector("#flow-panel:not([hidden])", timeout=2_000)
    await page.wait_for_selector("#flow .hop-row", timeout=5_000)


async def operator_only(stack: Stack, gateway: httpx.AsyncClient) -> dict[str, str]:
    """A login of an operator without the compliance role: the sandbox operator's own
    session, its token minted again by the gateway's key naming the operator role only
    (the roles a token names are all the gateway and the page go by)."""
    r = await gateway.post("/v1/auth/login", json={"phone": OPERATOR.phone, "password": OPERATOR.password})
    assert r.status_code == 200, r.text
    issuer = TokenIssuer(Keyring.load(str(stack.keys_dir), GATEWAY), AuthSettings())
    them = issuer.verify(r.json()["access_token"])
    token = issuer.issue(them.subject, [ROLE_OPERATOR], audience=GATEWAY, session_id=them.session_id)
    return {**r.json(), "access_token": token}


async def test_an_operator_without_the_compliance_role_is_offered_no_compliance_action(
    stack: Stack, gateway: httpx.AsyncClient, browser: Browser
) -> None:
    login = await operator_only(stack, gateway)
    page = await browser.new_page(viewport={"width": 1500, "height": 1100})

    async def answer_login(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(login))

    await page.route("**/v1/auth/login", answer_login)
    asked: list[tuple[str, int]] = []

    def note(response: Response) -> None:
        if "/v1/admin/compliance/" in response.url or "/v1/admin/accounts/" in response.url:
            asked.append((response.url.split("?")[0].removeprefix(stack.gateway_url), response.status))

    page.on("response", note)
    await page.goto(f"{stack.gateway_url}/console")
    await page.fill("#phone", OPERATOR.phone)
    await page.fill("#password", OPERATOR.password)
    await page.click("#login-button")
    await page.wait_for_selector("#console:not([hidden])", timeout=10_000)
    assert await page.text_content("#who") == "operator"

    await page.click("#tabs [data-tab='compliance']")
    await page.wait_for_selector("#compliance-denied:not([hidden])", timeout=2_000)
    denied = "not allowed: this operation needs the compliance role"
    for note_id in ("#alerts-note", "#reports-note", "#freezes-note"):
        await page.wait_for_selector(f"{note_id}:has-text('{denied}')", timeout=5_000)
    # The actions are not offered: no Take for review, Report, Dismiss, Freeze or Unfreeze.
    assert await page.locator(".compliance-action").count() >= 2
    for action in await page.locator(".compliance-action").all():
        assert await action.is_hidden()
    assert await page.locator("#alerts tbody tr, #reports tbody tr, #frozen tbody tr").count() == 0
    # The audit trail stays open to every operator, as its routes are.
    await page.click("#audit-verify")
    await page.wait_for_selector("#audit-verdict.ok", timeout=10_000)

    # What the page asked for was refused, and so is what it hides, asked for directly.
    assert {path for path, _ in asked} >= {
        "/v1/admin/compliance/alerts",
        "/v1/admin/compliance/reports",
        "/v1/admin/accounts/frozen",
    }
    assert {status for _, status in asked} == {403}
    headers = {"authorization": f"Bearer {login['access_token']}"}
    customer = await register_and_login(gateway)
    account = (await customer.open_account())["id"]
    for method, path, body in (
        ("POST", "/v1/admin/compliance/alerts/00000000-0000-4000-8000-000000000000/review", None),
        ("POST", f"/v1/admin/accounts/{account}/freeze", {"mode": "full", "reason": "held for review"}),
    ):
        r = await gateway.request(method, path, json=body, headers=headers)
        assert (r.status_code, r.headers["content-type"]) == (403, "application/problem+json"), r.text
        assert r.json()["detail"] == "this operation needs the compliance role"
    assert (await customer.get(f"/v1/accounts/{account}")).json()["freeze"] is None
