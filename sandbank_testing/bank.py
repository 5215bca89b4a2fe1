"""A running Sandbank as a test suite (or `sandbank reset|clock|faults`) drives it: through
the gateway's public API only, as the operator for the sandbox controls and as freshly
registered customers for everything else."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sandbank_testing.basics import SandbankError, SharedStackError, expect, refused
from sandbank_testing.clock import Clock
from sandbank_testing.customer import Customer
from sandbank_testing.webhooks import WebhookReceiver

# The seeded operator (shared/sandbox.py); a stack elsewhere may name another by
# SANDBANK_OPERATOR_PHONE and SANDBANK_OPERATOR_PASSWORD.
OPERATOR_PHONE = "+8613900000000"
OPERATOR_PASSWORD = "sandbank-operator"
SERVICES = ("accounts", "payments", "securities", "insurance", "gateway")
FAULT_KINDS = ("drop", "duplicate", "delay")
# A suite registers many customers from one address: a stack the plugin starts lifts the
# gateway's registration and login limits (they are tested in Sandbank's own suite).
ROOMY_LIMITS = {
    f"GATEWAY_RATE_{what}_{per}_BURST": "1000000" for what in ("LOGIN", "REGISTER") for per in ("IP", "PHONE")
}


class Sandbank:
    """A running Sandbank, reached through its gateway.

    `headers` go with every request this object and its customers make: the place for
    a credential that picks one suite's sandbox on a shared stack.

    The clock, faults and reset are the whole stack's: with `exclusive=False` (a stack
    other suites use too) they are refused, so that one suite never moves another's
    clock or drops its messages (docs/adr/0014-one-stack-per-suite.md).
    """

    def __init__(
        self,
        gateway_url: str,
        *,
        info: Mapping[str, Any] | None = None,
        operator_phone: str = OPERATOR_PHONE,
        operator_password: str = OPERATOR_PASSWORD,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        exclusive: bool = True,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.info: dict[str, Any] = dict(info or {"gateway_url": self.gateway_url})
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self.exclusive = exclusive
        self.clock = Clock(self)
        self._operator = (operator_phone, operator_password)
        self._operator_token: str | None = None
        self._http: httpx.Client | None = None
        self._data_dir: Path | None = None  # set when this object started the stack

    # -- starting, attaching, stopping --------------------------------------------------

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        timeout_s: float = 60,
        env: Mapping[str, str] | None = None,
        command: list[str] | None = None,
    ) -> Sandbank:
        """Start a stack on free ports with `sandbank up --port 0 --json`; stop it with `stop()`."""
        argv = [*(command or [sys.executable, "-m", "tools.cli"]), "up", "--port", "0", "--json"]
        argv += ["--data-dir", str(data_dir), "--timeout", f"{timeout_s:g}"]
        started = subprocess.run(
            argv,
            env={**ROOMY_LIMITS, **os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s + 60,
            check=False,
        )
        if started.returncode != 0:
            raise SandbankError(f"`sandbank up` failed (exit code {started.returncode}):\n{started.stderr}")
        info = json.loads(started.stdout)
        operator = info["operator"]
        bank = cls(
            info["gateway_url"], info=info, operator_phone=operator["phone"], operator_password=operator["password"]
        )
        bank._data_dir = Path(data_dir)
        bank._operator_token = operator.get("access_token")
        return bank

    @classmethod
    def attach(cls, url: str | None = None, env: Mapping[str, str] = os.environ, *, exclusive: bool = True) -> Sandbank:
        """A stack someone else runs: at `url` or SANDBANK_URL, its operator by
        SANDBANK_OPERATOR_PHONE / SANDBANK_OPERATOR_PASSWORD (else the seeded one).
        `exclusive=False` when other suites use it too: its clock, faults and reset are
        then refused."""
        gateway = url or env.get("SANDBANK_URL")
        if not gateway:
            raise SandbankError("no stack to attach to: set SANDBANK_URL to its gateway")
        bank = cls(
            gateway,
            operator_phone=env.get("SANDBANK_OPERATOR_PHONE", OPERATOR_PHONE),
            operator_password=env.get("SANDBANK_OPERATOR_PASSWORD", OPERATOR_PASSWORD),
            exclusive=exclusive,
        )
        try:
            ready = bank.http.get("/readyz")
        except httpx.HTTPError as e:
            raise SandbankError(f"no Sandbank answers at {gateway}: {e}") from None
        if ready.status_code != 200:
            raise SandbankError(f"the Sandbank at {gateway} is not ready: {ready.status_code} {ready.text[:300]}")
        return bank

    def stop(self, command: list[str] | None = None) -> None:
        """Stop the stack if this object started it (`sandbank down`); close its clients."""
        self.close()
        if self._data_dir is None:
            return
        argv = [*(command or [sys.executable, "-m", "tools.cli"]), "down", "--data-dir", str(self._data_dir)]
        stopped = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if stopped.returncode != 0:
            raise SandbankError(f"`sandbank down` failed:\n{stopped.stdout}{stopped.stderr}")
        self._data_dir = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- HTTP ---------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """An unauthenticated client of the gateway."""
        if self._http is None:
            self._http = self.client()
        return self._http

    def client(self, access_token: str | None = None) -> httpx.Client:
        """A new client of the gateway, authenticated with `access_token` when given."""
        headers = dict(self.headers)
        if access_token:
            headers["authorization"] = f"Bearer {access_token}"
        return httpx.Client(base_url=self.gateway_url, headers=headers, timeout=self.timeout_s, trust_env=False)

    def as_operator(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request with the operator's token, logging in again once if its session ended."""
        extra = kw.pop("headers", {})
        for _ in range(2):
            if self._operator_token is None:
                self._operator_token = self.login(*self._operator)["access_token"]
            auth = {"authorization": f"Bearer {self._operator_token}"}
            r = self.http.request(method, path, headers={**auth, **extra}, **kw)
            if r.status_code != 401:
                return r
            self._operator_token = None
        return r

    def login(self, phone: str, password: str, device_id: str = "sandbank-testing") -> dict[str, Any]:
        body = {"phone": phone, "password": password, "device_id": device_id}
        return dict(expect(self.http.post("/v1/auth/login", json=body), 200))

    # -- sandbox controls ---------------------------------------------------------------

    def own_stack(self, what: str) -> None:
        """Refuse `what` (a control that reaches the whole stack) unless this suite has the
        stack to itself."""
        if not self.exclusive:
            raise SharedStackError(
                f"{what} would reach every suite using the Sandbank at {self.gateway_url}, which this "
                "suite shares (SANDBANK_URL): the clock, faults and reset are the whole stack's. Leave "
                "SANDBANK_URL unset for a stack of this suite's own, or pass --sandbank-exclusive "
                "(SANDBANK_EXCLUSIVE=1) if no other suite uses this one."
            )

    def reset(self) -> dict[str, str]:
        """Back to the seed state: every customer but the demo ones is forgotten."""
        self.own_stack("a reset")
        answer = expect(self.as_operator("POST", "/v1/sandbox/reset"), 200)
        self._operator_token = None
        return dict(answer["services"])

    def faults(self) -> list[dict[str, Any]]:
        """The fault on each process's outgoing messages (mode `none` where there is none)."""
        return list(expect(self.as_operator("GET", "/v1/sandbox/faults"), 200)["items"])

    def set_fault(
        self, service: str, kind: str, seconds: float = 30, *, delay_ms: int = 500, probability: float = 1.0
    ) -> dict[str, Any]:
        """Drop, duplicate or delay `service`'s outgoing Kafka messages for `seconds`."""
        if kind not in FAULT_KINDS:
            raise SandbankError(f"no fault kind {kind!r}: one of {', '.join(FAULT_KINDS)}")
        self.own_stack(f"a {kind} fault on {service}")
        body = {"service": service, "mode": kind, "duration_s": seconds, "delay_ms": delay_ms}
        body["probability"] = probability
        return dict(expect(self.as_operator("POST", "/v1/sandbox/faults", json=body), 200))

    def clear_faults(self, service: str | None = None) -> list[dict[str, Any]]:
        """End the fault on one service, or on every process."""
        self.own_stack("clearing faults")
        cleared = []
        for name in [service] if service else SERVICES:
            body = {"service": name, "mode": "none"}
            cleared.append(dict(expect(self.as_operator("POST", "/v1/sandbox/faults", json=body), 200)))
        return cleared

    @contextmanager
    def fault(
        self, service: str, kind: str, seconds: float = 30, *, delay_ms: int = 500, probability: float = 1.0
    ) -> Iterator[dict[str, Any]]:
        """`with sandbank.fault("payments", "drop", seconds=5):` the fault for the block (at
        most `seconds`), cleared when the block ends, however it ends."""
        state = self.set_fault(service, kind, seconds, delay_ms=delay_ms, probability=probability)
        try:
            yield state
        finally:
            self.clear_faults(service)

    # -- webhooks -----------------------------------------------------------------------

    @contextmanager
    def webhooks(self, owner: Customer | None = None, events: Sequence[str] = ("*",)) -> Iterator[WebhookReceiver]:
        """A receiver on a free loopback port, registered as a webhook endpoint of `owner`
        (their own events), or of the operator when None (every customer's), for `events`.
        Every delivery's signature is checked with the endpoint's secret; the endpoint is
        deleted when the block ends."""
        receiver = WebhookReceiver().start()
        try:
            body = {"url": receiver.url, "events": list(events), "description": "sandbank_testing receiver"}
            if owner is None:
                created = self.as_operator("POST", "/v1/webhooks/endpoints", json=body)
            else:
                created = owner.client.post("/v1/webhooks/endpoints", json=body)
            endpoint = expect(created, 201)
            receiver.endpoint_id = endpoint["id"]
            receiver.use_secret(endpoint["secret"])
            try:
                yield receiver
            finally:
                path = f"/v1/webhooks/endpoints/{endpoint['id']}"
                gone = self.as_operator("DELETE", path) if owner is None else owner.client.delete(path)
                # 401 and 404: a reset in the test already forgot the owner and the endpoint.
                if gone.status_code not in (204, 401, 404):
                    raise refused(gone)
        finally:
            receiver.close()

    # -- customers ----------------------------------------------------------------------

    def register(self, name: str = "Test Customer") -> Customer:
        """A new customer, registered as a phone does (code by the sandbox SMS) and logged in."""
        phone, password = f"+86137{random.randint(0, 99_999_999):08d}", f"pw-{uuid.uuid4().hex[:12]}"
        expect(self.http.post("/v1/auth/registrations", json={"phone": phone}), 202)
        inbox = expect(self.as_operator("GET", "/v1/sandbox/inbox", params={"phone": phone}), 200)["items"]
        codes = [m["code"] for m in inbox if m["kind"] == "registration_code" and m["code"]]
        if not codes:
            raise SandbankError(f"no registration code was sent to {phone}")
        body = {"phone": phone, "code": codes[0], "password": password, "name": name}
        customer_id = expect(self.http.post("/v1/auth/register", json=body), 201)["customer_id"]
        token = self.login(phone, password)["access_token"]
        return Customer(self, customer_id, phone, password, name, self.client(token), token)

    def new_customer(self, deposit: str = "1000.00", name: str = "Test Customer") -> Customer:
        """A customer with a checking account holding `deposit` (CNY)."""
        customer = self.register(name)
        customer.checking = customer.open_account("checking")
        if deposit:
            customer.deposit(deposit)
        return customer

    def new_investor(self, deposit: str = "10000.00", securities_cash: str = "5000.00") -> Customer:
        """A customer with a funded checking account and a securities cash account holding
        `securities_cash`, moved there by a bank-securities transfer."""
        customer = self.new_customer(deposit, name="Test Investor")
        customer.securities = customer.open_account("securities_cash")
        if securities_cash:
            key = {"Idempotency-Key": str(uuid.uuid4())}
            body = {"from": "bank", "amount": securities_cash}
            started = expect(customer.client.post("/v1/securities/transfers", json=body, headers=key), 202)
            transfer = customer._settled(f"/v1/securities/transfers/{started['id']}")
            if transfer["status"] != "completed":
                raise SandbankError(f"the transfer to securities ended {transfer['status']}: {transfer}")
        return customer

    def new_policyholder(self, deposit: str = "1000.00", product: str = "personal_accident") -> Customer:
        """A customer with a funded checking account and an active policy of `product`, its
        premium paid from that account."""
        customer = self.new_customer(deposit, name="Test Policyholder")
        quote_body = {"product_code": product, "age": 30, "term_days": 365, "sum_insured": "100000.00"}
        quote = expect(customer.client.post("/v1/insurance/quotes", json=quote_body), 201)
        key = {"Idempotency-Key": str(uuid.uuid4())}
        body = {"quote_id": quote["id"], "account_id": customer.checking}
        started = expect(customer.client.post("/v1/insurance/policies", json=body, headers=key), 202)
        policy = customer._settled(f"/v1/insurance/policies/{started['id']}")
        if policy["status"] != "active":
            raise SandbankError(f"the policy ended {policy['status']}: {policy}")
        customer.policy = policy
        return customer
