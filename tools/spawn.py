"""How the stack starts its Python processes: forked from a server that imported their libraries once.

Each service and the gateway import the same libraries (FastAPI, pydantic, SQLAlchemy,
aiokafka, alembic, uvicorn, cryptography, ...) before doing anything: about 1.5 s of CPU
each, so a stack of five spent 8-10 s of CPU on imports alone, most of its start-up on a
2-core machine. multiprocessing's fork server imports them once (`PRELOAD`), and every
process is forked from it: it starts with those modules loaded and imports only its own.
Like `python -m MODULE`, the child then runs MODULE as `__main__`, in the project root,
with its own environment, log file, process group and death signal. After the fork
nothing is shared: each process has its own interpreter state, event loop, database
connections and Kafka clients, exactly as when started by exec.

The fork server is one per supervising process (a `sandbank run`, or a test session
starting several stacks), started with the first stack; it exits when its parent does,
and its children get SIGTERM when it exits, so a killed supervisor leaves no orphans.
`SANDBANK_FORK=0` (or another interpreter than the supervisor's, or a system without
fork) starts each process with `python -m` instead.
"""

from __future__ import annotations

import compileall
import ctypes
import gc
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

# What every process of the stack imports; a module missing here is imported by the child.
PRELOAD = [
    "shared.web",
    "shared.runtime",
    "shared.internal",
    "shared.migrations",
    "shared.auth",
    "shared.idempotency",
    "shared.saga",
    "shared.bootstrap",
    "shared.schemas.accounts",
    # What every process imports as it builds its routes (FastAPI's check for pydantic v1
    # models), loads its key (OpenSSL's backend) and, but accounts, makes an httpx client.
    "pydantic.v1",
    "cryptography.hazmat.backends.openssl",
    "httpcore",
    "h11",
    # Imported by every process at start when tracing is on (the default; shared/tracing.py).
    "opentelemetry.trace",
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.resources",
    "aiosqlite",
    "httpx",
    "uvicorn",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
]
ENV_FORK = "SANDBANK_FORK"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The project's packages a stack's processes import (their bytecode, see `warm_up`).
PACKAGES = ("shared", "gateway", "services", "tools", "sandbank_testing")
_compiled = False
PR_SET_NAME = 15
# A forked process's name in ps and top (its command line is the fork server's): "sb-accounts".
COMM_PREFIX = "sb-"
PR_SET_PDEATHSIG = 1


def forking(python: str) -> bool:
    """Whether processes for `python` are forked (else started with `python -m`)."""
    return (
        os.environ.get(ENV_FORK, "1") != "0"
        and sys.platform.startswith("linux")
        and os.path.realpath(python) == os.path.realpath(sys.executable)
    )


def _context() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, multiprocessing.context.ForkServerContext)
    return ctx


def warm_up() -> None:
    """Start the fork server (it imports `PRELOAD` in the background), so a stack's other
    start-up work (key pairs, the broker) overlaps its imports."""
    global _compiled
    ctx = _context()
    ctx.set_forkserver_preload(["tools.preload"])  # which imports PRELOAD
    multiprocessing.forkserver.ensure_running()
    if sys.dont_write_bytecode and not _compiled:
        # PYTHONDONTWRITEBYTECODE=1 (set on some machines) would have every process compile
        # the project's sources again at each start: a third of a process's imports. The
        # bytecode is written once here (and again only for a source that changed), while
        # the server imports: it looks at every source's time, 0.15 s that were the
        # server's to wait. What the server finds stale it compiles itself, once, for all
        # (a .pyc is written whole or not at all, so it never reads half of one).
        for package in PACKAGES:
            compileall.compile_dir(PROJECT_ROOT / package, quiet=2, workers=1)
        _compiled = True


class Forked:
    """A process forked from the fork server, with the part of `subprocess.Popen` the
    stack uses: pid, poll, wait, returncode, send_signal, terminate, kill."""

    stdout = None

    def __init__(self, process: multiprocessing.process.BaseProcess, argv: list[str]) -> None:
        self._process = process
        self.args = argv
        pid = process.pid
        assert pid is not None, "a started process has a pid"
        self.pid: int = pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(name: str, module: str, env: dict[str, str], log_path: Path, cwd: Path) -> Forked:
    """Fork `python -m module` (named `name`) from the fork server; its output goes to `log_path`."""
    warm_up()
    process = _context().Process(
        target=_run, args=(name, module, env, str(log_path), str(cwd)), name=f"sandbank-{name}", daemon=False
    )
    process.start()
    # The supervisor watches its processes itself: multiprocessing must not join them
    # when the supervisor's interpreter exits (a stack left running by a test session is
    # stopped by its own finaliser, and `sandbank run` stops its children first).
    multiprocessing.process._children.discard(process)  # type: ignore[attr-defined]
    return Forked(process, [sys.executable, "-m", module])


def _run(name: str, module: str, env: dict[str, str], log_path: str, cwd: str) -> None:
    """In the forked child: become `python -m module`."""
    # What the fork server loaded stays as it is: out of the collector's scans (the
    # runtime's own collection at start-up then looks at this process's objects only)
    # and out of its writes, so those pages stay shared with the server.
    gc.freeze()
    os.setpgid(0, 0)  # its own group: a terminal's Ctrl-C reaches only the supervisor
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        libc.prctl(PR_SET_NAME, f"{COMM_PREFIX}{name}".encode()[:15], 0, 0, 0)  # what ps and top show
    except OSError:
        pass
    # multiprocessing hands each child the fork server's "alive" pipe, so the server
    # outlives its parent while a child lives. Ours must not: the server exiting is
    # what sends every child its death signal when the supervisor is gone.
    _close_inherited()
    if os.getppid() == 1:  # the fork server is gone already
        os._exit(1)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _close_inherited() -> None:
    server = multiprocessing.forkserver._forkserver
    tracker = multiprocessing.resource_tracker._resource_tracker
    for owner, attribute in ((server, "_forkserver_alive_fd"), (tracker, "_fd")):
        fd = getattr(owner, attribute, None)
        if fd is not None:
            os.close(fd)
            setattr(owner, attribute, None)
