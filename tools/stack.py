"""The whole Sandbank as local processes: the broker, four services and the gateway.

`make run` is `sandbank run` (tools/cli.py); the e2e tests use `Stack` directly.
Processes are spawned by module name, so this module imports no service.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

from tools import spawn
from tools.broker import free_port, port_open

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_SERVICES: tuple[tuple[str, str], ...] = (
    ("accounts", "services.accounts"),
    ("payments", "services.payments"),
    ("securities", "services.securities"),
    ("insurance", "services.insurance"),
    ("gateway", "gateway"),
)
BACKEND_SERVICES = ("accounts", "payments", "securities", "insurance")
# The services `--replicas N` runs N of (ADR 0018): their consumers, relays and sweepers
# share a PostgreSQL database and their topics' partitions. Securities (one simulated
# market that prices and fills orders in memory), insurance and the gateway (its
# notification streams and rate limits live in the process) stay single.
REPLICATED = ("accounts", "payments")
POLL_INTERVAL_S = 0.05
# How often a process that is starting is asked whether it is ready: a process binds its
# port only once it is, so until then each look is a refused connection, which costs
# neither side anything worth counting.
READY_POLL_S = 0.02
# How often `sandbank up`'s supervisor looks for processes that died.
SUPERVISE_EVERY_S = 1.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 20
# `sandbank run` restarts a process that dies, after a backoff doubling from the first to
# the last delay, and gives up (stopping the stack) on a process that dies this often.
RESTART_BACKOFF_S = (0.5, 10.0)
RESTART_LIMIT = 5
RESTART_WINDOW_S = 60.0
# The first delay, in seconds, instead of RESTART_BACKOFF_S's: the supervisor's own tests
# set it small, so that a process dying five times costs them a second rather than eight.
ENV_RESTART_BACKOFF = "SANDBANK_RESTART_BACKOFF_S"
RUN_DESCRIPTION = (
    "Start the broker, the four services and the gateway and supervise them in the "
    "foreground. Ctrl-C, SIGINT, SIGTERM or `sandbank stop` stops every process. A process "
    f"that dies is restarted after {RESTART_BACKOFF_S[0]:g}s ({ENV_RESTART_BACKOFF}), the delay "
    f"doubling with each death to {RESTART_BACKOFF_S[1]:g}s; one that dies {RESTART_LIMIT} times "
    f"within {RESTART_WINDOW_S:.0f}s stops the stack (exit code 1). The embedded broker comes back "
    "on its port with no messages: it keeps them in memory only."
)

Progress = Callable[[str], None]

# The embedded broker runs under a small Python parent of its own: in its own process
# group, so a terminal's Ctrl-C reaches only the supervisor (Tansu exits on SIGINT at
# once, which would pull the broker from under the services while they shut down), and
# with the death signal the supervisor gives every child, so Tansu never outlives it.
_BROKER_LAUNCHER = """
import signal, sys
from pathlib import Path
from tools.broker import EmbeddedBroker
broker = EmbeddedBroker(sys.argv[1], port=int(sys.argv[3]) or None, log_path=Path(sys.argv[2]))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    broker.start()
    print(broker.bootstrap_servers, flush=True)
    sys.exit(broker.process.wait())
finally:
    broker.stop()
"""


class StackError(RuntimeError):
    pass


def call(method: str, url: str, body: Any = None, timeout_s: float = 1.0) -> tuple[int, bytes]:
    """One HTTP request, with `body` as JSON when given: the status and the body of the
    answer (OSError when none comes).

    The standard library's client, a connection per call: the supervisor and `sandbank
    up` ask no more of HTTP than a readiness look and a login, and httpx cost them a fifth
    of a second of their start (its import, and the CA bundle read into every client)."""
    import http.client  # here: `sandbank up` starts the supervisor before it needs one

    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname or HOST, where.port, timeout=timeout_s)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        connection.request(method, where.path or "/", None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as e:  # an answer that is not HTTP: as good as none
        raise OSError(f"{type(e).__name__}: {e}") from e
    finally:
        connection.close()


def readyz(url: str) -> tuple[int, bytes]:
    """GET `url`/readyz: the status and the body (OSError when nothing answers)."""
    return call("GET", f"{url}/readyz")


def _service_named(body: bytes) -> str | None:
    """The service a /readyz answer names (None for an answer that is not a readiness probe's)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    service = answer.get("service") if isinstance(answer, dict) else None
    return service if isinstance(service, str) else None


@dataclass
class _Process:
    name: str
    argv: list[str]
    port: int
    env: dict[str, str]
    log_path: Path
    service: str = ""  # what it runs: its name, or the service a replica ("payments-2") is of
    replica: int = 0  # 1..N for a replica, 0 for a process that runs once
    popen: subprocess.Popen[bytes] | spawn.Forked | None = None
    log_offset: int = 0  # where this run's output starts in the (appended) log
    started_at: float = 0.0
    expected_exit: bool = False
    restarts: int = 0
    deaths: list[float] | None = None  # when it died unasked, within the restart window

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def process(self) -> subprocess.Popen[bytes] | spawn.Forked:
        """The started process (for a process that was never started, an error)."""
        if self.popen is None:
            raise StackError(f"{self.name} was never started")
        return self.popen


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when its parent thread dies, so a
    killed supervisor leaves no orphans."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork, not in the child
    except OSError:
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def tail(path: Path, lines: int = LOG_TAIL_LINES, offset: int = 0) -> str:
    """The last `lines` lines of a log from byte `offset` on, JSON log records rendered
    as text so a traceback reads as one."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(offset if offset <= size else 0, size - 256 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    rendered: list[str] = []
    for line in text.splitlines():
        rendered.extend(_render_log_line(line).splitlines())
    kept = rendered[-lines:]
    return "\n".join(f"    {line}" for line in kept) if kept else "    (the log is empty)"


def log_record(line: str) -> dict[str, Any] | None:
    """A process's structured log line as its fields (level, logger, msg, exc ...), None
    for a line of another shape (the launcher's banners, a library's plain print)."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "msg" in record else None


def _render_log_line(line: str) -> str:
    record = log_record(line)
    if record is None:
        return line
    text = f"{record.get('level', '')} {record.get('logger', '')}: {record['msg']}"
    if exc := record.get("exc"):
        text += f"\n{exc}"
    return text


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether binding host:port fails the way uvicorn's bind would (SO_REUSEADDR, so
    a closed socket lingering in TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return e.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


class Stack:
    """Supervises the broker, the services and the gateway as child processes.

    `gateway_port=0` picks free ports for every process (tests next to a `make run`).
    Children die with the supervisor: they get SIGTERM when the thread that spawned
    them exits, so all spawning happens on one worker thread that lives until `stop()`.
    """

    def __init__(
        self,
        data_dir: Path,
        gateway_port: int = 8000,
        ports: Mapping[str, int] | None = None,
        kafka_bootstrap: str | None = None,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        services: Iterable[tuple[str, str]] = DEFAULT_SERVICES,
        replicas: int = 1,
        db_url: str | None = None,
        db_schema_prefix: str = "",
    ) -> None:
        if replicas < 1:
            raise StackError(f"--replicas must be 1 or more, not {replicas}")
        if replicas > 1 and (db_url is None or db_url.startswith("sqlite")):
            raise StackError(
                f"{replicas} replicas need PostgreSQL: SQLite has one writer, so each service runs once on it "
                "(ADR 0005, 0018). Give a PostgreSQL URL with --db-url or DB_URL, e.g. "
                "postgresql+asyncpg://sandbank:sandbank@127.0.0.1:5432/sandbank"
            )
        self.replicas = replicas
        self.db_url = db_url
        self.db_schema_prefix = db_schema_prefix
        self.data_dir = Path(data_dir).resolve()
        self.log_dir = self.data_dir / "logs"
        self.python = python
        self._forking = spawn.forking(python)
        self.extra_env = dict(env or {})
        self._external_bootstrap = kafka_bootstrap
        self.broker: _Process | None = None
        self._bootstrap: str | None = None
        self.started_at: float | None = None
        self._spawner: ThreadPoolExecutor | None = None
        # The stack's key pairs (shared/keys.py): AUTH_KEYS_DIR when set (a test run shares
        # one set across its stacks), else made on first start beside the databases.
        self.keys_dir = Path(os.environ.get("AUTH_KEYS_DIR") or self.data_dir / "keys").resolve()
        self.keys_made: list[str] = []

        modules = dict(services)
        if gateway_port == 0:
            chosen = {name: free_port(HOST) for name in ("gateway", *BACKEND_SERVICES)}
        else:
            chosen = {"gateway": gateway_port}
            chosen.update({n: gateway_port + i for i, n in enumerate(BACKEND_SERVICES, 1)})
        chosen.update(ports or {})
        for name in modules:
            if name not in chosen:
                chosen[name] = free_port(HOST)
        self.processes: dict[str, _Process] = {}
        extra_port = gateway_port + len(BACKEND_SERVICES) + 1
        for name, module in modules.items():
            if replicas == 1 or name not in REPLICATED:
                self.processes[name] = _Process(
                    name, [python, "-m", module], chosen[name], {}, self.log_dir / f"{name}.log", service=name
                )
                continue
            # Replica 1 takes the service's own port (what `url(service)` answers), the
            # others the ports after the four services'.
            for i in range(1, replicas + 1):
                port = chosen[name]
                if i > 1:
                    port, extra_port = (free_port(HOST) if gateway_port == 0 else extra_port), extra_port + 1
                replica = f"{name}-{i}"
                chosen[replica] = port
                self.processes[replica] = _Process(
                    replica, [python, "-m", module], port, {}, self.log_dir / f"{replica}.log", service=name, replica=i
                )
        self.ports = chosen

    # -- addresses ---------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    def replicas_of(self, service: str) -> list[_Process]:
        """A service's processes: its replicas, or the one process that runs it."""
        return [p for p in self.processes.values() if p.service == service]

    @property
    def bootstrap_servers(self) -> str:
        if self._external_bootstrap:
            return self._external_bootstrap
        if self._bootstrap is None:
            raise StackError("the stack has no broker yet: call start() first")
        return self._bootstrap

    @property
    def broker_log(self) -> Path:
        return self.log_dir / "broker.log"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, timeout_s: float = 30, progress: Progress | None = None) -> Stack:
        """Start the broker, spawn every process at once and wait until all are ready."""
        say = progress or (lambda _msg: None)
        self.started_at = time.monotonic()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._forking:
            spawn.warm_up()  # its imports overlap the key pairs and the broker
        from shared import keys  # here: `sandbank up`, which imports this module too, makes none

        self.keys_made = keys.generate(self.keys_dir)
        if self.keys_made:
            say(f"generated key pairs for {', '.join(self.keys_made)} in {self.keys_dir}")
        try:
            if self._external_bootstrap is None:
                self._start_broker(timeout_s)
                say(f"broker ready on {self.bootstrap_servers} ({self._elapsed():.1f}s)")
            if self.db_url is not None and not self.db_url.startswith("sqlite"):
                self._make_schemas()
            base_env = self._base_env()
            for proc in self.processes.values():
                proc.env = {**base_env, **self._own_env(proc), **self.extra_env}
            # Replicas after the first start once it is ready: it migrated and seeded the
            # schema they share (the seeds are not written for two writers at once).
            first = [p for p in self.processes.values() if p.replica <= 1]
            for proc in first:
                self._spawn(proc)
            self._wait_ready(first, timeout_s, say)
            later = [p for p in self.processes.values() if p.replica > 1]
            for proc in later:
                self._spawn(proc)
            self._wait_ready(later, timeout_s, say)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM every child, SIGKILL what is left after 5 s, then stop the broker."""
        alive = [p for p in self.processes.values() if p.running()]
        for proc in alive:
            proc.expected_exit = True
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in alive:
            try:
                proc.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait()
        if self.broker is not None and self.broker.running():
            self.broker.expected_exit = True
            self.broker.process.terminate()
            try:
                self.broker.process.wait(STOP_GRACE_S + 2)  # it gives Tansu 5 s itself
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.broker.process.pid, signal.SIGKILL)
                self.broker.process.wait()
        if self.broker is not None and self.broker.popen and self.broker.popen.stdout:
            self.broker.popen.stdout.close()
        if self._spawner is not None:
            self._spawner.shutdown(wait=True)
            self._spawner = None

    def kill(self, name: str) -> None:
        """SIGKILL one process (chaos tests); `restart(name)` brings it back. For the
        broker, Tansu itself goes first: left to its launcher's death signal it would
        take seconds to stop, serving meanwhile."""
        proc = self._process(name)
        if proc.running():
            proc.expected_exit = True
            if name == "broker":
                for child in children_of(proc.process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
            proc.process.kill()
            proc.process.wait()

    def restart(self, name: str, timeout_s: float = 20, progress: Progress | None = None) -> None:
        """Start one process again with the environment it had, and wait until ready.

        The broker ("broker") comes back on the port it had, so the services' bootstrap
        address stays valid; it keeps messages in memory only, so what it held is gone.
        """
        if name == "broker" and self.broker is not None:
            broker = self.broker
            if broker.running():
                broker.expected_exit = True
                broker.process.terminate()
                broker.process.wait(STOP_GRACE_S + 2)
            if broker.popen and broker.popen.stdout:
                broker.popen.stdout.close()
            # A launcher killed outright leaves Tansu to its death signal (SIGTERM), which
            # it takes a moment to obey; the port must be free to come back on it.
            deadline = time.monotonic() + STOP_GRACE_S + 2
            while port_open(HOST, broker.port) and time.monotonic() < deadline:
                time.sleep(POLL_INTERVAL_S)
            try:
                self._start_broker(timeout_s, port=broker.port)
            finally:
                self.broker.restarts, self.broker.deaths = broker.restarts + 1, broker.deaths
            return
        proc = self._process(name)
        proc.restarts += 1
        if proc.running():
            proc.expected_exit = True
            proc.process.terminate()
            try:
                proc.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait()
        if not proc.env:
            raise StackError(f"{name} was never started: call start() first")
        self._spawn(proc)
        self._wait_ready([proc], timeout_s, progress or (lambda _msg: None))

    def exited(self) -> list[_Process]:
        """Processes (the broker as "broker") that died without being told to."""
        dead = [
            p
            for p in self.processes.values()
            if p.popen is not None and p.popen.poll() is not None and not p.expected_exit
        ]
        broker = self.broker
        if broker and broker.popen and broker.popen.poll() is not None and not broker.expected_exit:
            dead.append(broker)
        return dead

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------

    def _process(self, name: str) -> _Process:
        if name == "broker" and self.broker is not None:
            return self.broker
        try:
            return self.processes[name]
        except KeyError:
            raise StackError(f"no process named {name!r}; have {sorted(self.processes)}") from None

    def _elapsed(self) -> float:
        return time.monotonic() - (self.started_at or time.monotonic())

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("SANDBANK_ENVIRONMENT", "sandbox")
        env["PYTHONUNBUFFERED"] = "1"
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap_servers
        if self._external_bootstrap is None:
            # The embedded broker answers a fetch only when its wait ends: quiet consumers
            # wait for a producer's ring instead (shared/kafka/doorbell.py).
            env["KAFKA_DOORBELL_DIR"] = str(self.data_dir / "doorbell")
        env["HTTP_HOST"] = HOST
        env["AUTH_KEYS_DIR"] = str(self.keys_dir)
        for name in BACKEND_SERVICES:
            # Every replica's address: the gateway takes them in turn (gateway/routing/upstream.py).
            replicas = self.replicas_of(name)
            urls = [p.url for p in replicas] if replicas else [self.url(name)]
            env[f"SERVICE_URL_{name.upper()}"] = ",".join(urls)
        return env

    def schema_of(self, service: str) -> str:
        """The PostgreSQL schema a service's tables live in (one database for the stack)."""
        return f"{self.db_schema_prefix}{service}"

    def _own_env(self, proc: _Process) -> dict[str, str]:
        if self.db_url is not None and not self.db_url.startswith("sqlite"):
            return {"HTTP_PORT": str(proc.port), "DB_URL": self.db_url, "DB_SCHEMA_NAME": self.schema_of(proc.service)}
        return {
            "HTTP_PORT": str(proc.port),
            "DB_URL": f"sqlite+aiosqlite:///{self.data_dir / proc.name}.db",
        }

    def _make_schemas(self) -> None:
        import asyncio

        from sqlalchemy import text

        from shared.db import Database

        async def make() -> None:
            db = Database(str(self.db_url))
            try:
                async with db.writer.begin() as conn:
                    for service in {p.service for p in self.processes.values()}:
                        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {self.schema_of(service)}"))
            finally:
                await db.dispose()

        try:
            asyncio.run(make())
        except OSError as e:
            raise StackError(f"PostgreSQL at {self.db_url} does not answer: {e}") from None

    def _start_broker(self, timeout_s: float, port: int = 0) -> None:
        argv = [self.python, "-c", _BROKER_LAUNCHER, HOST, str(self.broker_log), str(port)]
        self.broker = proc = _Process("broker", argv, port, {}, self.broker_log)
        proc.env = dict(os.environ)  # `-c` puts the cwd, the project root, on sys.path
        self._spawn(proc, stdout=subprocess.PIPE)
        launcher, out = proc.process, proc.process.stdout
        if out is None:
            raise StackError("the broker launcher has no output to read its address from")
        deadline = time.monotonic() + min(timeout_s, 20)
        while time.monotonic() < deadline:
            if launcher.poll() is not None:
                raise StackError(
                    f"the embedded broker exited with code {launcher.returncode}; last lines of "
                    f"{self.broker_log}:\n" + tail(self.broker_log, offset=proc.log_offset)
                )
            ready, _, _ = select.select([out], [], [], POLL_INTERVAL_S)
            if ready:
                host, _, answered = out.readline().decode().strip().rpartition(":")
                if host and answered.isdigit():  # the launcher prints host:port once it answers
                    self._bootstrap = f"{host}:{answered}"
                    proc.port = int(answered)
                    return
        raise StackError(
            f"the embedded broker was not ready after {timeout_s:.0f}s; last lines of "
            f"{self.broker_log}:\n" + tail(self.broker_log, offset=proc.log_offset)
        )

    def _spawn(self, proc: _Process, stdout: int | None = None) -> None:
        # Spawned on one long-lived thread: PR_SET_PDEATHSIG fires when the spawning
        # *thread* exits, so a caller's short-lived thread would take the children with it.
        if self._spawner is None:
            self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-spawner")
        self._spawner.submit(self._popen, proc, stdout).result()

    def _popen(self, proc: _Process, stdout: int | None) -> None:
        proc.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(proc.log_path, "ab") as log:
            proc.log_offset = log.tell()
            what = "the embedded broker" if proc.name == "broker" else f"{proc.argv[-1]} on {proc.url}"
            log.write(f"--- sandbank stack: starting {what} ---\n".encode())
            log.flush()
            proc.expected_exit = False
            proc.started_at = time.monotonic()
            if self._forking and proc.name != "broker":
                module = proc.argv[-1]
                proc.popen = spawn.start(proc.name, module, proc.env, proc.log_path, PROJECT_ROOT)
                return
            proc.popen = subprocess.Popen(
                proc.argv,
                cwd=PROJECT_ROOT,
                env=proc.env,
                stdin=subprocess.DEVNULL,
                stdout=log if stdout is None else stdout,
                stderr=log,
                preexec_fn=_pdeathsig_preexec(),
                # Its own process group: a Ctrl-C reaches only the supervisor, which
                # stops the children in order.
                process_group=0,
            )

    def _wait_ready(self, procs: list[_Process], timeout_s: float, say: Progress) -> None:
        pending = {p.name: p for p in procs}
        last_answer: dict[str, str] = {}
        began = time.monotonic()
        deadline = began + timeout_s
        while pending:
            for name, proc in list(pending.items()):
                if proc.process.poll() is not None:
                    raise StackError(
                        f"{name} exited with code {proc.process.returncode} before it was "
                        f"ready; last lines of {proc.log_path}:\n" + tail(proc.log_path, offset=proc.log_offset)
                    )
                try:
                    status, body = readyz(proc.url)
                except OSError as e:
                    last_answer[name] = f"no answer ({type(e).__name__})"
                    continue
                answers_as = _service_named(body)
                if answers_as != (proc.service or proc.name):
                    # Another stack's process took the port between our choosing it and
                    # this one binding it (which happens after its start-up): not ours,
                    # so not ready; ours exits on the failed bind and says so above.
                    last_answer[name] = f"port {proc.port} answers as {answers_as!r}, another process"
                    continue
                if status == 200:
                    del pending[name]
                    took = time.monotonic() - proc.started_at
                    say(f"{name} ready on {proc.url} ({took:.1f}s)")
                else:
                    last_answer[name] = f"{status} {body[:300].decode(errors='replace')}"
            if not pending:
                return
            if time.monotonic() > deadline and (more := _busy_machine_grace(timeout_s, time.monotonic() - began)):
                # A loaded machine starts slowly, not wrongly: wait longer, and say so.
                deadline += more
                say(
                    f"{', '.join(sorted(pending))} not ready after {time.monotonic() - began:.0f}s: the machine is "
                    f"busy ({_load()}), waiting up to {more:.0f}s more (last /readyz: "
                    + "; ".join(f"{n} {last_answer.get(n, 'none')[:80]}" for n in sorted(pending))
                    + ")"
                )
            if time.monotonic() > deadline:
                waited = time.monotonic() - began
                parts = [
                    f"{name} was not ready after {waited:.0f}s ({_load()}; last /readyz: "
                    f"{last_answer.get(name, 'none')}); last lines of {proc.log_path}:\n"
                    + tail(proc.log_path, offset=proc.log_offset)
                    for name, proc in pending.items()
                ]
                raise StackError("\n\n".join(parts))
            time.sleep(READY_POLL_S)


# A start on a machine busier than its cores may wait this many times its timeout in all.
BUSY_GRACE = 3.0


def _busy_machine_grace(timeout_s: float, waited_s: float) -> float:
    """How much longer to wait for readiness: on a machine whose load average is over its
    core count, half the timeout more, up to `BUSY_GRACE` times the timeout in all; on an
    idle one, nothing (what does not start there is broken, not slow)."""
    cores = os.cpu_count() or 1
    if os.getloadavg()[0] <= cores or waited_s >= BUSY_GRACE * timeout_s:
        return 0.0
    return min(timeout_s / 2, BUSY_GRACE * timeout_s - waited_s)


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count() or 1} cores"


# -- the command line -------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """The processes `pid` started, from every one of its threads (Linux; none elsewhere)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


class _Stop(BaseException):
    """Raised from the SIGTERM handler to unwind like Ctrl-C."""


def _lock(data_dir: Path) -> IO[str] | None:
    """The run lock, held for the life of the process; None when another run holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "run.lock", "a+")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def read_run_info(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((data_dir / "run.json").read_text()))
    except (OSError, ValueError):
        return {}


def _write_run_info(data_dir: Path, info: dict[str, Any]) -> None:
    tmp = data_dir / "run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(data_dir / "run.json")


def _banner(stack: Stack, elapsed: float, backoff: tuple[float, float]) -> str:
    from shared.sandbox import DEMO_USERS

    rows: list[tuple[str, str]] = []
    if "gateway" in stack.processes:
        rows += [("gateway", stack.gateway_url), ("API docs", f"{stack.gateway_url}/docs")]
    broker_kind = "embedded Tansu" if stack.broker else "external"
    rows.append(("broker", f"{stack.bootstrap_servers} ({broker_kind})"))
    if stack.db_url is not None and not stack.db_url.startswith("sqlite"):
        rows.append(("database", f"{_without_password(stack.db_url)} (a schema per service)"))
    rows += [(n, stack.url(n)) for n in stack.processes if n != "gateway"]
    rows += [("data", str(stack.data_dir)), ("logs", str(stack.log_dir)), ("keys", str(stack.keys_dir))]
    width = max(len(label) for label, _ in rows)
    lines = ["", "Sandbank is running", ""]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    lines += ["", "  Demo logins (phone / password / role):"]
    for user in DEMO_USERS:
        roles = ", ".join(user.roles)
        lines.append(f"    {user.phone}  {user.password:<18}  {roles:<9}  {user.name}")
    lines += [
        "",
        f"Ready in {elapsed:.1f}s. Ctrl-C here or `make stop` stops everything.",
        f"A process that dies is restarted (backoff {backoff[0]:g}s doubling to {backoff[1]:g}s); "
        f"one that dies {RESTART_LIMIT} times within {RESTART_WINDOW_S:.0f}s stops the stack.",
        "",
    ]
    return "\n".join(lines)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{userinfo.split(':')[0]}{at}{host}" if at else url


def restart_backoff(environ: Mapping[str, str] = os.environ) -> tuple[float, float]:
    """The first and the last restart delay: RESTART_BACKOFF_S, its first delay replaced by
    SANDBANK_RESTART_BACKOFF_S when set; the last is never below the first."""
    first, last = RESTART_BACKOFF_S
    given = environ.get(ENV_RESTART_BACKOFF, "").strip()
    if not given:
        return first, last
    refused = StackError(f"{ENV_RESTART_BACKOFF} must be a positive number of seconds, not {given!r}")
    try:
        first = float(given)
    except ValueError:
        raise refused from None
    if not 0 < first < float("inf"):
        raise refused
    return first, max(first, last)


def restart_delay(deaths: int, backoff: tuple[float, float] = RESTART_BACKOFF_S) -> float:
    """Seconds to wait before restarting a process after its `deaths`-th recent death."""
    first, last = backoff
    return float(min(first * 2 ** (deaths - 1), last))


def _note_processes(stack: Stack, info: dict[str, Any]) -> None:
    procs = [*([stack.broker] if stack.broker else []), *stack.processes.values()]
    info["pids"] = {p.name: p.popen.pid if p.running() and p.popen else None for p in procs}
    info["restarts"] = {p.name: p.restarts for p in procs}


def _how_it_ended(proc: _Process) -> str:
    rc = proc.popen.returncode if proc.popen else None
    return f"killed by {signal.Signals(-rc).name}" if rc and rc < 0 else f"exit code {rc}"


def _revive(stack: Stack, proc: _Process, timeout_s: float, info: dict[str, Any], backoff: tuple[float, float]) -> bool:
    """Restart a process that died unasked, after its backoff; False when it died too
    often (RESTART_LIMIT times within RESTART_WINDOW_S) and the stack should stop."""
    now = time.monotonic()
    deaths = [t for t in (proc.deaths or []) if now - t < RESTART_WINDOW_S] + [now]
    proc.deaths = deaths
    print(
        f"\n{proc.name} exited unexpectedly ({_how_it_ended(proc)}); its log is {proc.log_path}. "
        f"Last lines:\n{tail(proc.log_path, offset=proc.log_offset)}",
        file=sys.stderr,
        flush=True,
    )
    if len(deaths) >= RESTART_LIMIT:
        print(
            f"\n{proc.name} died {len(deaths)} times within {RESTART_WINDOW_S:.0f}s; giving up and stopping Sandbank.",
            file=sys.stderr,
            flush=True,
        )
        info["state"] = "stopping"
        return False
    delay = restart_delay(len(deaths), backoff)
    note = " (the embedded broker keeps messages in memory only: what it held is lost)" if proc.name == "broker" else ""
    print(f"  restarting {proc.name} in {delay:g}s{note}", flush=True)
    time.sleep(delay)
    try:
        stack.restart(proc.name, timeout_s=timeout_s)
    except StackError as e:
        again = stack._process(proc.name)
        if again.running():  # alive but never ready: counts as one more death
            print(f"  {proc.name} did not come back: {e}", file=sys.stderr, flush=True)
            stack.kill(proc.name)
        # One that exited is reported, with its log, as the next death.
        again.expected_exit = False
    else:
        again = stack._process(proc.name)
        print(
            f"  {proc.name} ready again on {_address(stack, again)} ({time.monotonic() - again.started_at:.1f}s)",
            flush=True,
        )
    _note_processes(stack, info)
    return True


def _address(stack: Stack, proc: _Process) -> str:
    return stack.bootstrap_servers if proc.name == "broker" else proc.url


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    lock = _lock(data_dir)
    if lock is None:
        running = read_run_info(data_dir)
        gateway = f"http://{HOST}:{running.get('ports', {}).get('gateway', args.port)}"
        print(
            f"Sandbank is already running (pid {running.get('pid', '?')}) with the gateway at "
            f"{gateway} — stop it with Ctrl-C in its terminal or `make stop`",
            file=sys.stderr,
        )
        return 1

    try:
        backoff = restart_backoff()
    except StackError as e:
        print(f"Sandbank did not start: {e}", file=sys.stderr)
        lock.close()
        return 2
    services = DEFAULT_SERVICES
    if args.services:
        wanted = args.services.split(",")
        services = tuple(s for s in DEFAULT_SERVICES if s[0] in wanted)
    try:
        stack = Stack(
            data_dir,
            gateway_port=args.port,
            kafka_bootstrap=args.bootstrap_servers,
            services=services,
            replicas=args.replicas,
            db_url=args.db_url or None,
        )
    except StackError as e:
        print(f"Sandbank did not start: {e}", file=sys.stderr)
        lock.close()
        return 2
    taken = [(n, p) for n, p in stack.ports.items() if n in stack.processes and port_in_use(p)]
    if taken:
        for name, port in taken:
            print(f"Port {port} (for {name}) is already in use.", file=sys.stderr)
        print(
            "Free it, or choose other ports with --port (the services take the next four, replicas the ones after).",
            file=sys.stderr,
        )
        return 1

    info: dict[str, Any] = {
        "pid": os.getpid(),
        "state": "starting",
        "gateway_url": stack.gateway_url if "gateway" in stack.processes else None,
        "ports": {n: stack.ports[n] for n in stack.processes},
        "bootstrap_servers": args.bootstrap_servers,
        "data_dir": str(data_dir),
    }
    _write_run_info(data_dir, info)

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise _Stop

    def on_progress(message: str) -> None:
        print(f"  {message}", flush=True)
        if stack.broker and info["bootstrap_servers"] is None:
            info["bootstrap_servers"] = stack.bootstrap_servers
            _write_run_info(data_dir, info)

    # Both stop the stack. A script's background job inherits SIGINT ignored, so Ctrl-C
    # (or `kill -INT`) would otherwise leave everything serving.
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    print(f"Starting Sandbank (data in {data_dir}) ...", flush=True)
    try:
        try:
            stack.start(timeout_s=args.timeout, progress=on_progress)
        except StackError as e:
            print(f"\nSandbank did not start: {e}", file=sys.stderr)
            return 1
        elapsed = time.monotonic() - (stack.started_at or time.monotonic())
        info.update(state="running", bootstrap_servers=stack.bootstrap_servers)
        _note_processes(stack, info)
        _write_run_info(data_dir, info)
        print(_banner(stack, elapsed, backoff), flush=True)
        while True:
            dead = stack.exited()
            for proc in dead:
                if not _revive(stack, proc, args.timeout, info, backoff):
                    code = 1
                    break
                _write_run_info(data_dir, info)
            if code:
                break
            # Once a second: a look costs the supervisor little, but five a second were a
            # tenth of what a whole idle stack spent; a process that dies waits its restart
            # back-off anyway.
            time.sleep(SUPERVISE_EVERY_S)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and strand children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nStopping Sandbank ...", flush=True)
        stack.stop()
        with contextlib.suppress(FileNotFoundError):
            (data_dir / "run.json").unlink()
        print("Sandbank stopped.", flush=True)
        lock.close()
    return code


def stop(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    lock = _lock(data_dir) if data_dir.exists() else None
    if lock is not None or not data_dir.exists():
        # Nobody holds the run lock: whatever run.json says is stale.
        if lock is not None:
            with contextlib.suppress(FileNotFoundError):
                (data_dir / "run.json").unlink()
            lock.close()
        print("Sandbank is not running.")
        return 0
    info = read_run_info(data_dir)
    pid = info.get("pid")
    if not isinstance(pid, int):
        print(
            f"Sandbank holds {data_dir / 'run.lock'} but {data_dir / 'run.json'} names no pid; "
            "stop it with Ctrl-C in its terminal.",
            file=sys.stderr,
        )
        return 1
    print(f"Stopping Sandbank (pid {pid}) ...", flush=True)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lock = _lock(data_dir)  # released when the supervisor exits
        if lock is not None:
            lock.close()
            print("Sandbank stopped.")
            return 0
        time.sleep(0.1)
    print(
        f"Sandbank (pid {pid}) is still running after 15s; kill it with `kill -9 {pid}`.",
        file=sys.stderr,
    )
    return 1
