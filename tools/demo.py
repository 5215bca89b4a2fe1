"""`make demo` (`sandbank demo`): Sandbank's story for a live audience, in one terminal.

Li Wei, the seeded demo customer, pays a noodle house by QR code and buys a share; then
accounts drops every message it sends for a few seconds while she pays a café, and the
payment's saga re-sends its step and completes once the fault is over; she insures
herself, claims 888.88 (the sandbox's "an adjuster must look" amount), the seeded
adjuster approves, and the payout lands; the operator's ledger check closes the story.

Each step waits on the real outcome, polling the resource until it ends (with a timeout
that names what it waited for), prints its status, amounts and balances before and after,
and the console link to its sequence diagram (`<gateway>/console#/flow/<id>`). Everything
goes through the gateway's public API, with `sandbank_testing`'s client.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from sandbank_testing.bank import Sandbank
from sandbank_testing.basics import SandbankError, expect
from shared.sandbox import ADJUSTERS, DEMO_CUSTOMERS

CUSTOMER = DEMO_CUSTOMERS[0]  # Li Wei: class I, checking 50,000.00, securities cash 20,000.00
ADJUSTER = ADJUSTERS[0]
CHECKING = next(a.id for a in CUSTOMER.accounts if a.kind == "checking")
SECURITIES_CASH = next(a.id for a in CUSTOMER.accounts if a.kind == "securities_cash")
# The order saga fills a market order against the ticker's book; an ETF keeps it cheap.
SYMBOL = "510300"
# At most: the demo ends the fault as soon as it has dropped a message.
FAULT_MAX_S = 60.0
CLAIM_AMOUNT = "888.88"  # docs/sandbox.md: always waits for one adjuster
CLAIM_DOCUMENTS = ("accident_report", "medical_invoice")
ENDED_ORDER = ("filled", "cancelled", "rejected", "expired")
ENDED_CLAIM = ("closed", "rejected", "withdrawn")


class Paint:
    """ANSI colours when the output is a terminal (and NO_COLOR is unset)."""

    CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, style: str, text: str) -> str:
        if not self.enabled:
            return text
        codes = ";".join(self.CODES[s] for s in style.split())
        return f"\033[{codes}m{text}\033[0m"


class StepFailed(SandbankError):
    """A step ended otherwise than the story needs, or did not end in time."""


@dataclass
class Step:
    title: str
    ok: bool = False
    flow_id: str | None = None
    detail: str = ""
    lines: list[str] = field(default_factory=list)


def money(minor: int) -> str:
    return f"{minor / 100:,.2f}"


class Story:
    """The demo's steps, against one stack, printing to `out` as it goes."""

    def __init__(self, bank: Sandbank, out: TextIO, paint: Paint, timeout_s: float = 30.0) -> None:
        self.bank = bank
        self.out = out
        self.paint = paint
        self.timeout_s = timeout_s
        self.steps: list[Step] = []
        self.customer: httpx.Client | None = None
        self.adjuster: httpx.Client | None = None

    # -- the story ----------------------------------------------------------------------

    def run(self) -> list[Step]:
        self.say(self.paint("bold", f"Sandbank demo at {self.bank.gateway_url}"))
        self.say(self.paint("dim", f"{CUSTOMER.name} ({CUSTOMER.phone}) logs in; {ADJUSTER.name} decides claims."))
        self.customer = self.bank.client(self.bank.login(CUSTOMER.phone, CUSTOMER.password, "demo")["access_token"])
        self.adjuster = self.bank.client(self.bank.login(ADJUSTER.phone, ADJUSTER.password, "demo")["access_token"])
        try:
            self.step("1. Pay a merchant by QR code", self.pay_by_qr)
            self.step("2. Buy a share", self.buy_share)
            self.step("3. A fault halfway: accounts drops its messages, the saga recovers", self.pay_through_a_fault)
            policy = self.step("4. Insure herself", self.buy_policy)
            self.step("5. File a claim; the adjuster approves; the payout lands", lambda s: self.claim(s, policy))
            self.step("6. The operator checks the ledger", self.check_ledger)
        finally:
            self.customer.close()
            self.adjuster.close()
        self.summary()
        return self.steps

    def pay_by_qr(self, step: Step) -> None:
        qr = f"sandbank://qr/v1?m=M100001&a=32.00&r=DEMO-{uuid.uuid4().hex[:8]}"
        self.say(f"   scans {self.paint('cyan', qr)}")
        self.pay(step, qr)

    def pay_through_a_fault(self, step: Step) -> None:
        fault = expect(
            self.bank.as_operator(
                "POST", "/v1/sandbox/faults", json={"service": "accounts", "mode": "drop", "duration_s": FAULT_MAX_S}
            ),
            200,
        )
        dropped_before = int(fault["dropped"])
        self.say(f"   the operator injects: {self.paint('yellow', 'accounts drops every message it sends')}")
        started = time.monotonic()

        def dropped() -> int:
            faults = expect(self.bank.as_operator("GET", "/v1/sandbox/faults"), 200)["items"]
            return next(int(f["dropped"]) for f in faults if f["service"] == "accounts") - dropped_before

        def until_a_message_is_lost() -> None:
            # The fault lasts until it has cost the payment a message (accounts' answer to
            # its reservation), however slow the machine; then the operator ends it.
            lost = self.until("accounts to drop a message", lambda: {"n": n} if (n := dropped()) > 0 else None)
            self.end_fault()
            self.say(
                f"   accounts dropped {self.paint('yellow', str(lost['n']))} message(s) in "
                f"{time.monotonic() - started:.1f} s; the operator ends the fault, the saga waits out its step timeout"
            )

        try:
            qr = f"sandbank://qr/v1?m=M100004&a=18.50&r=DEMO-{uuid.uuid4().hex[:8]}"
            self.say(f"   {CUSTOMER.name} scans {self.paint('cyan', qr)} while it lasts")
            self.pay(step, qr, meanwhile=until_a_message_is_lost)
        finally:
            self.end_fault()
        took = time.monotonic() - started
        step.detail += f"; accounts dropped {dropped()} message(s), the saga re-sent its step, {took:.1f} s in all"
        self.say(f"   the saga recovered: completed {took:.1f} s after the fault began")

    def end_fault(self) -> None:
        expect(self.bank.as_operator("POST", "/v1/sandbox/faults", json={"service": "accounts", "mode": "none"}), 200)

    def pay(self, step: Step, qr: str, *, meanwhile: Callable[[], None] | None = None) -> None:
        customer = self.client("customer")
        before = self.balance(CHECKING)
        started = expect(
            customer.post("/v1/payments/qr", json={"qr_payload": qr, "payer_account_id": CHECKING}, headers=key()),
            202,
        )
        step.flow_id = started["id"]
        self.say(
            f"   202 {started['status']}: {started['amount']} {started['currency']} to {started['payee']['label']}"
        )
        if meanwhile is not None:
            meanwhile()
        payment = self.until(
            f"payment {started['id']}",
            lambda: self.ended(customer.get(f"/v1/payments/{started['id']}"), ("pending",)),
            # A lost message costs the saga its step timeout (PAYMENTS_STEP_TIMEOUT_S, 5 s).
            self.timeout_s + (10 if meanwhile else 0),
        )
        after = self.balance(CHECKING)
        self.say(
            f"   {self.outcome(payment['status'], 'completed')} at {payment['completed_at'] or payment['updated_at']}"
        )
        self.balances(before, after)
        step.detail = f"{payment['status']}, {payment['amount']} {payment['currency']} to {payment['payee']['label']}"
        if payment["status"] != "completed":
            raise StepFailed(
                f"the payment ended {payment['status']} ({payment.get('reason')}: {payment.get('detail')})"
            )
        if before - after != payment["amount_minor"]:
            raise StepFailed(f"checking moved by {money(before - after)}, not by {payment['amount']}")

    def buy_share(self, step: Step) -> None:
        customer = self.client("customer")
        before = self.balance(SECURITIES_CASH)
        body = {"symbol": SYMBOL, "side": "buy", "type": "market", "quantity": 100}
        self.say(f"   market order: buy 100 shares of {SYMBOL}")
        placed = expect(customer.post("/v1/securities/orders", json=body, headers=key()), 202)
        step.flow_id = placed["id"]
        self.say(f"   202 {placed['status']}: {placed['reserved']} reserved from securities cash")
        order = self.until(
            f"order {placed['id']}",
            lambda: self.ended(customer.get(f"/v1/securities/orders/{placed['id']}"), ENDED_ORDER, final=True),
        )
        after = self.balance(SECURITIES_CASH)
        self.say(f"   {self.outcome(order['status'], 'filled')} 100 {order['name']} at {order['filled_price']}")
        self.balances(before, after, "securities cash")
        step.detail = f"{order['status']}, 100 of {SYMBOL} at {order['filled_price']}, {order['amount']} with fees"
        if order["status"] != "filled":
            raise StepFailed(f"the order ended {order['status']} ({order.get('reason')}: {order.get('detail')})")

    def buy_policy(self, step: Step) -> dict[str, Any]:
        customer = self.client("customer")
        before = self.balance(CHECKING)
        quote_body = {"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"}
        quote = expect(customer.post("/v1/insurance/quotes", json=quote_body), 201)
        self.say(f"   personal accident, sum insured {quote['sum_insured']}, a year: premium {quote['premium']}")
        body = {"quote_id": quote["id"], "account_id": CHECKING}
        started = expect(customer.post("/v1/insurance/policies", json=body, headers=key()), 202)
        step.flow_id = started["id"]
        policy = self.until(
            f"policy {started['id']}",
            lambda: self.ended(customer.get(f"/v1/insurance/policies/{started['id']}"), ("pending",)),
        )
        after = self.balance(CHECKING)
        self.say(f"   {self.outcome(policy['status'], 'active')} policy {policy['number']}, from {policy['starts_on']}")
        self.balances(before, after)
        step.detail = f"{policy['status']}, {policy['number']}, premium {policy['premium']}"
        if policy["status"] != "active":
            raise StepFailed(f"the policy ended {policy['status']} ({policy.get('failure_reason')})")
        return dict(policy)

    def claim(self, step: Step, policy: dict[str, Any] | None) -> None:
        if policy is None:
            raise StepFailed("no policy to claim on: step 4 failed")
        customer, adjuster = self.client("customer"), self.client("adjuster")
        before = self.balance(CHECKING)
        body = {
            "policy_id": policy["id"],
            "kind": "accidental_injury",
            "amount": CLAIM_AMOUNT,
            "incident_date": policy["starts_on"],
        }
        reported = expect(customer.post("/v1/insurance/claims", json=body), 201)
        claim_id = reported["id"]
        step.flow_id = claim_id
        for document in CLAIM_DOCUMENTS:
            digest = hashlib.sha256(f"{claim_id}/{document}".encode()).hexdigest()
            upload = {"kind": document, "name": f"{document}.jpg", "size_bytes": 182_004, "checksum": digest}
            expect(customer.post(f"/v1/insurance/claims/{claim_id}/documents", json=upload), 201)
        expect(customer.post(f"/v1/insurance/claims/{claim_id}/submit"), 200)
        self.say(f"   claim {reported['number']}: {CLAIM_AMOUNT} for an accidental injury, with its two documents")

        def waiting() -> dict[str, Any] | None:
            claim: dict[str, Any] = expect(customer.get(f"/v1/insurance/claims/{claim_id}"), 200)
            return claim if claim["awaiting_adjuster"] or claim["status"] in ENDED_CLAIM else None

        claim = self.until(f"claim {claim_id} to reach an adjuster", waiting)
        if not claim["awaiting_adjuster"]:
            raise StepFailed(
                f"the claim ended {claim['status']} before an adjuster saw it: {claim['rejection_detail']}"
            )
        self.say(f"   the rules flag it {claim['flags']}: it waits for an adjuster")
        decided = expect(adjuster.post(f"/v1/adjuster/claims/{claim_id}/decision", json={"decision": "approve"}), 200)
        self.say(f"   {ADJUSTER.name} approves: {decided['status']}")
        if decided["awaiting_adjuster"]:
            # A fraud rule flagged it too (on the default settings, a claim in the cover's
            # first 30 days): a second adjuster must approve (four eyes).
            second = ADJUSTERS[1]
            with self.bank.client(self.bank.login(second.phone, second.password, "demo")["access_token"]) as other:
                body = {"decision": "approve"}
                decided = expect(other.post(f"/v1/adjuster/claims/{claim_id}/decision", json=body), 200)
            self.say(f"   flagged {decided['flags']}: {second.name} approves too: {decided['status']}")
        claim = self.until(
            f"claim {claim_id}",
            lambda: self.ended(customer.get(f"/v1/insurance/claims/{claim_id}"), ENDED_CLAIM, final=True),
        )
        after = self.balance(CHECKING)
        payout = claim.get("payout_amount") or "0.00"
        self.say(f"   {self.outcome(claim['status'], 'closed')}: {payout} paid out")
        self.balances(before, after)
        step.detail = f"{claim['status']}, {CLAIM_AMOUNT} approved by {ADJUSTER.name}, {payout} paid"
        if claim["status"] != "closed":
            raise StepFailed(f"the claim ended {claim['status']}: {claim.get('rejection_detail')}")
        if after - before != claim["payout_amount_minor"]:
            raise StepFailed(f"checking moved by {money(after - before)}, not by the payout {payout}")

    def check_ledger(self, step: Step) -> None:
        report = expect(self.bank.as_operator("GET", "/v1/admin/ledger/check"), 200)
        totals = ", ".join(f"{currency} {money(t)}" for currency, t in sorted(report["totals_minor"].items()))
        verdict = "balanced" if report["ok"] else "NOT balanced"
        self.say(
            f"   {self.outcome('balanced' if report['ok'] else 'violated', 'balanced')}: "
            f"{report['accounts_checked']} accounts, {report['entries_checked']} entries, "
            f"{report['active_holds']} holds active; every currency sums to {totals}"
        )
        step.detail = f"{verdict}, {report['accounts_checked']} accounts"
        if not report["ok"]:
            rules = sorted({v["rule"] for v in report["violations"]})
            raise StepFailed(f"the ledger check found violations of {', '.join(rules)}")

    # -- how each step runs and prints ----------------------------------------------------

    def step(self, title: str, action: Callable[[Step], Any]) -> Any:
        step = Step(title)
        self.steps.append(step)
        self.say("")
        self.say(self.paint("bold", title))
        result = None
        try:
            result = action(step)
            step.ok = True
        except (SandbankError, httpx.HTTPError) as exc:
            step.ok = False
            step.detail = str(exc)
            self.say(f"   {self.paint('red', 'failed:')} {exc}")
        if step.flow_id:
            self.say(f"   sequence diagram: {self.paint('cyan', self.link(step.flow_id))}")
        return result

    def summary(self) -> None:
        self.say("")
        passed = sum(s.ok for s in self.steps)
        colour = "green bold" if passed == len(self.steps) else "red bold"
        self.say(self.paint(colour, f"{passed} of {len(self.steps)} steps succeeded"))
        for s in self.steps:
            mark = self.paint("green", "ok  ") if s.ok else self.paint("red", "FAIL")
            self.say(f"  {mark} {s.title}: {s.detail}")

    def link(self, flow_id: str) -> str:
        return f"{self.bank.gateway_url}/console#/flow/{flow_id}"

    def until(self, what: str, probe: Callable[[], dict[str, Any] | None], timeout_s: float | None = None) -> Any:
        """The probe's first answer, polled until the timeout: money settles through Kafka."""
        limit = timeout_s or self.timeout_s
        deadline = time.monotonic() + limit
        while (answer := probe()) is None:
            if time.monotonic() > deadline:
                raise StepFailed(f"waited {limit:g} s for {what} to end; it has not (see `sandbank status`)")
            time.sleep(0.1)
        return answer

    @staticmethod
    def ended(r: httpx.Response, waiting: tuple[str, ...], *, final: bool = False) -> dict[str, Any] | None:
        """The resource once its status is past `waiting` (or, with `final`, in `waiting`)."""
        body: dict[str, Any] = expect(r, 200)
        done = body["status"] in waiting if final else body["status"] not in waiting
        return body if done else None

    def balance(self, account_id: str) -> int:
        return int(expect(self.client("customer").get(f"/v1/accounts/{account_id}"), 200)["balance_minor"])

    def balances(self, before: int, after: int, name: str = "checking") -> None:
        change = after - before
        sign = "+" if change >= 0 else "-"
        moved = self.paint("green" if change >= 0 else "yellow", f"{sign}{money(abs(change))}")
        self.say(f"   {name}: {money(before)} → {money(after)} ({moved})")

    def outcome(self, status: str, wanted: str) -> str:
        return self.paint("green bold" if status == wanted else "red bold", status)

    def client(self, who: str) -> httpx.Client:
        found = self.customer if who == "customer" else self.adjuster
        if found is None:
            raise StepFailed(f"the {who} is not logged in")
        return found

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    colour = args.colour if args.colour is not None else out.isatty() and "NO_COLOR" not in os.environ
    paint = Paint(bool(colour))
    own_dir: Path | None = None
    try:
        bank = Sandbank.attach(args.gateway)
    except SandbankError as exc:
        if args.no_start:
            print(f"{exc}: start one with `make run` in another terminal", file=sys.stderr)
            return 2
        own_dir = Path(tempfile.mkdtemp(prefix="sandbank-demo-"))
        print(
            paint("dim", f"no Sandbank answers at {args.gateway}: starting one of its own in {own_dir} ..."), file=out
        )
        bank = Sandbank.start(own_dir)
    try:
        steps = Story(bank, out, paint, timeout_s=args.timeout).run()
    finally:
        if own_dir is not None and args.keep:
            bank.close()
            print(f"the stack keeps running at {bank.gateway_url}: `sandbank down --data-dir {own_dir}`", file=out)
        elif own_dir is not None:
            bank.stop()
            shutil.rmtree(own_dir, ignore_errors=True)
        else:
            bank.close()
    return 0 if all(s.ok for s in steps) else 1
