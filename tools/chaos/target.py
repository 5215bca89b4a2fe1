"""The stack under test: `sandbank run` as a subprocess on a data dir of its own, as
`make run` runs it, and what its operator views show (the drain and `observe`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shared.auth import ROLE_OPERATOR, TokenIssuer
from shared.keys import Keyring
from shared.sandbox import OPERATOR
from shared.settings import AuthSettings
from tools.chaos.checker import Line, Observed
from tools.stack import BACKEND_SERVICES, HOST, PROJECT_ROOT, children_of, port_in_use, read_run_info

SERVICES = ("gateway", *BACKEND_SERVICES)
# What `sandbank run` waits for readiness (its --timeout): a 2-core machine under load
# can take longer than its default 30 s to start five processes.
READY_TIMEOUT_S = 90
START_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 30.0
# The stack is started with these on top of the caller's environment: every client
# registers from one address, and a load generator is a velocity anomaly by definition
# (and, claiming on policies it has just bought, an early and frequent claimant: no
# adjuster works the chaos run's claims). Every other rule (step-up thresholds, class
# limits) stays as shipped.
STACK_ENV = {
    "GATEWAY_RATE_REGISTER_IP_BURST": "1000000",
    "GATEWAY_RATE_LOGIN_IP_BURST": "1000000",
    "PAYMENTS_VELOCITY_MAX": "1000000",
    "INSURANCE_FRAUD_EARLY_CLAIM_DAYS": "0",
    "INSURANCE_FRAUD_FREQUENT_CLAIMS": "0",
}


class TargetError(RuntimeError):
    pass


def free_port_block(count: int = 5, rng: random.Random | None = None) -> int:
    """A gateway port whose next `count - 1` ports are free too (`sandbank run --port`)."""
    pick = rng or random.Random()
    for _ in range(200):
        base = pick.randint(20000, 60000)
        if not any(port_in_use(base + i) for i in range(count)):
            return base
    raise TargetError("found no block of five free ports")


class Target:
    """One `sandbank run` on `data_dir`, started and stopped as a developer would."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.env = {**os.environ, **STACK_ENV, **(env or {})}
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "sandbank-run.log"
        self.starts = 0

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.port + SERVICES.index(service)}"

    def run_info(self) -> dict[str, Any]:
        return read_run_info(self.data_dir)

    def pid_of(self, name: str) -> int | None:
        """The pid of one process of the stack, as the supervisor last wrote it; for the
        broker the Tansu process itself, not its launcher."""
        pid = self.run_info().get("pids", {}).get(name)
        if not isinstance(pid, int):
            return None
        if name == "broker":
            children = children_of(pid)
            return children[0] if children else None
        return pid

    def start(self, attempts: int = 3) -> None:
        """Start `sandbank run` and wait until it says it is running; on a loaded machine a
        start can miss its readiness timeout, so it is tried again."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return
            except TargetError:
                if attempt == attempts:
                    raise
                self.stop()

    def _start_once(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "run.json").unlink()
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it)
        argv = [sys.executable, "-m", "tools.cli", "run", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        argv += ["--timeout", str(READY_TIMEOUT_S)]
        # Its own session: the nemesis signals it alone, and a Ctrl-C of `make chaos` reaches
        # only the chaos run, which stops the stack itself.
        self.popen = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise TargetError(f"sandbank run exited with {self.popen.returncode}; see {self.log_path}")
            if self.run_info().get("state") == "running":
                return
            time.sleep(0.2)
        raise TargetError(f"sandbank run was not running after {START_TIMEOUT_S:.0f}s; see {self.log_path}")

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Ctrl-C the supervisor and wait for it; SIGKILL its group if it hangs."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def log_tail(self, lines: int = 12) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


# -- the operator's views ------------------------------------------------------------------


class Operator:
    """The seeded operator, logged in to the gateway and able to read each service's
    /metrics (operators may, shared/internal.py)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = httpx.AsyncClient(timeout=10)
        self.headers: dict[str, str] = {}
        self._issuer: TokenIssuer | None = None

    async def close(self) -> None:
        await self.client.aclose()

    async def login(self) -> None:
        r = await self.client.post(
            f"{self.target.gateway_url}/v1/auth/login",
            json={"phone": OPERATOR.phone, "password": OPERATOR.password, "device_id": "chaos-operator"},
        )
        if r.status_code != 200:
            raise TargetError(f"the operator could not log in: {r.status_code} {r.text[:200]}")
        self.headers = {"authorization": f"Bearer {r.json()['access_token']}"}

    async def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One operator request; logs in again when the session is gone (a gateway reset)."""
        if not self.headers:
            await self.login()
        r = await self.client.request(method, url, headers=self.headers, **kw)
        if r.status_code == 401:
            await self.login()
            r = await self.client.request(method, url, headers=self.headers, **kw)
        return r

    async def gateway(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.call(method, f"{self.target.gateway_url}{path}", **kw)

    def service_headers(self, service: str) -> dict[str, str]:
        """A token the gateway's key vouches for: the operator, for one service. A service
        takes only tokens for itself (shared/auth.py), so the operator's gateway session
        cannot read its /metrics; the chaos run holds the stack's keys, as the gateway does."""
        if self._issuer is None:
            keys_dir = Path(self.target.env.get("AUTH_KEYS_DIR") or self.target.data_dir / "keys")
            self._issuer = TokenIssuer(Keyring.load(keys_dir, "gateway"), AuthSettings())
        token = self._issuer.issue("chaos-operator", [ROLE_OPERATOR], audience=service, ttl_s=60)
        return {"authorization": f"Bearer {token}"}

    async def metrics(self, service: str) -> dict[str, float]:
        if service == "gateway":
            r = await self.call("GET", f"{self.target.url(service)}/metrics")
        else:
            r = await self.client.get(f"{self.target.url(service)}/metrics", headers=self.service_headers(service))
        r.raise_for_status()
        return parse_metrics(r.text)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text lines `name{labels} value` as {"name{labels}": value}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[name] = float(value)
    return out


def open_sagas(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every saga row (shared/saga: the tables with `step`, `deadline_at` and `ended_at`)
    that has not ended, per service, read from the services' SQLite files read-only."""
    found: dict[str, list[dict[str, Any]]] = {}
    for service in BACKEND_SERVICES:
        path = data_dir / f"{service}.db"
        if not path.exists():
            continue
        rows: list[dict[str, Any]] = []
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                columns = {r[1] for r in db.execute(f'PRAGMA table_info("{table}")')}
                if not {"step", "deadline_at", "ended_at", "kind"} <= columns:
                    continue
                cursor = db.execute(
                    f'SELECT id, kind, step, attempts, deadline_at, created_at FROM "{table}" WHERE ended_at IS NULL'
                )
                names = [d[0] for d in cursor.description]
                rows += [{"table": table, **dict(zip(names, r, strict=True))} for r in cursor.fetchall()]
        found[service] = rows
    return found


@dataclass
class Drain:
    """The stack's in-flight work at one moment: drained when all of it is zero."""

    non_terminal_payments: int | None
    active_holds: int | None
    open_sagas: int
    outbox_backlog: int
    consumer_lag: dict[str, int]  # "service/consumer" -> messages behind
    unreadable: list[str]

    @property
    def drained(self) -> bool:
        return (
            not self.unreadable
            and self.non_terminal_payments == 0
            and self.active_holds == 0
            and self.open_sagas == 0
            and self.outbox_backlog == 0
            and self.lag == 0
        )

    @property
    def lag(self) -> int:
        return sum(max(v, 0) for v in self.consumer_lag.values())

    def describe(self) -> str:
        return (
            f"payments in flight {self.non_terminal_payments}, holds {self.active_holds}, open sagas "
            f"{self.open_sagas}, outbox {self.outbox_backlog}, lag {self.lag}{self._laggards()}"
            + (f", unreadable: {'; '.join(self.unreadable)}" if self.unreadable else "")
        )

    def _laggards(self) -> str:
        """The consumers furthest behind, so a slow drain names who is slow."""
        behind = sorted(((v, k) for k, v in self.consumer_lag.items() if v > 0), reverse=True)[:3]
        return f" ({', '.join(f'{name} {lag}' for lag, name in behind)})" if behind else ""


async def backlog(op: Operator) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """Outbox rows waiting per service, and lag per consumer, from each /metrics. A lag the
    service could not read from the broker in time (`sandbank_consumer_lag_stale`) is
    unreadable: the figure beside it is an old one, and a drain must not rest on it."""
    outbox: dict[str, int] = {}
    lag: dict[str, int] = {}
    unreadable: list[str] = []
    for service in SERVICES:
        try:
            metrics = await op.metrics(service)
        except (httpx.HTTPError, OSError) as e:
            unreadable.append(f"{service} /metrics ({type(e).__name__})")
            continue
        ages = {_consumer(name): value for name, value in metrics.items() if name.startswith(LAG_AGE + "{")}
        for name, value in metrics.items():
            if name.startswith("sandbank_outbox_backlog"):
                outbox[service] = outbox.get(service, 0) + int(value)
            elif name.startswith("sandbank_consumer_lag{"):
                lag[f"{service}/{_consumer(name)}"] = int(value)
            elif name.startswith(LAG_STALE + "{") and value:
                consumer = _consumer(name)
                age = ages.get(consumer, -1.0)
                read = f"last read {age:.0f}s ago" if age >= 0 else "never read"
                unreadable.append(f"{service}/{consumer} lag (stale: the broker did not answer in time; {read})")
    return outbox, lag, unreadable


LAG_STALE = "sandbank_consumer_lag_stale"
LAG_AGE = "sandbank_consumer_lag_age_seconds"


def _consumer(sample: str) -> str:
    """The `consumer` label of a sample's `name{labels}`."""
    return sample.split('consumer="', 1)[1].split('"', 1)[0]


async def drain_state(op: Operator) -> Drain:
    unreadable: list[str] = []
    non_terminal = holds = None
    try:
        r = await op.gateway("GET", "/v1/admin/payments/summary")
        non_terminal = int(r.json()["non_terminal"]) if r.status_code == 200 else None
        r = await op.gateway("GET", "/v1/admin/ledger/check")
        holds = int(r.json()["active_holds"]) if r.status_code == 200 else None
    except (httpx.HTTPError, OSError, ValueError, KeyError) as e:
        unreadable.append(f"operator views ({type(e).__name__})")
    outbox, lag, more = await backlog(op)
    try:
        sagas = await asyncio.to_thread(open_sagas, op.target.data_dir)
    except sqlite3.Error as e:
        unreadable.append(f"saga tables ({e})")
        sagas = {}
    return Drain(
        non_terminal,
        holds,
        sum(len(rows) for rows in sagas.values()),
        sum(outbox.values()),
        lag,
        unreadable + more,
    )


async def observe(op: Operator, balances: dict[str, tuple[int, int]], lines: list[Line]) -> Observed:
    """Everything the checker compares with the model; the customers' own views (balances,
    statement lines) are read by the workload's clients and passed in."""
    unreadable: list[str] = []
    ledger: dict[str, Any] = {}
    non_terminal = None
    try:
        r = await op.gateway("GET", "/v1/admin/ledger/check")
        ledger = r.json() if r.status_code == 200 else {"ok": None, "status": r.status_code}
        r = await op.gateway("GET", "/v1/admin/payments/summary")
        non_terminal = int(r.json()["non_terminal"]) if r.status_code == 200 else None
    except (httpx.HTTPError, OSError, ValueError, KeyError) as e:
        unreadable.append(f"operator views ({type(e).__name__})")
    outbox, lag, more = await backlog(op)
    try:
        sagas = await asyncio.to_thread(open_sagas, op.target.data_dir)
    except sqlite3.Error as e:
        unreadable.append(f"saga tables ({e})")
        sagas = {}
    return Observed(
        ledger=ledger,
        balances=balances,
        lines=lines,
        open_sagas=sagas,
        outbox_backlog=outbox,
        consumer_lag=lag,
        payments_non_terminal=non_terminal,
        unreadable=unreadable + more,
    )
