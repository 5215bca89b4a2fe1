"""`sandbank run` started the way a script starts it: a background job of a
non-interactive shell, so it inherits SIGINT ignored. It restarts what dies, gives up
on what keeps dying, and stops everything on SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.broker import port_open
from tools.stack import ENV_RESTART_BACKOFF, RESTART_LIMIT

pytestmark = pytest.mark.e2e

SANDBANK = Path(sys.executable).with_name("sandbank")


class Run:
    def __init__(self, data_dir: Path, shell: subprocess.Popen[bytes], output: Path) -> None:
        self.data_dir, self.shell, self.output = data_dir, shell, output

    def info(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.data_dir / "run.json").read_text()))
        except (OSError, ValueError):
            return {}

    def exit_code(self) -> int | None:
        rc = self.data_dir.parent / "run.rc"
        return int(rc.read_text()) if rc.exists() and rc.read_text().strip() else None

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def supervisor_alive(self) -> bool:
        pid = self.info().get("pid")
        return isinstance(pid, int) and _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is as good as gone: its parent has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def until(check: Callable[[], object], what: str, run: Run, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout_s:.0f}s; output so far:\n{run.text()}")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def background_run(tmp_path: Path, **env: str) -> Iterator[Run]:
    """`sandbank run` as a script's background job, with `env` added to its environment."""
    data_dir, output = tmp_path / "data", tmp_path / "run.out"
    sandbank = f"{SANDBANK} run --data-dir {data_dir} --port 0 --timeout 60 >{output} 2>&1 </dev/null"
    command = f"{{ {sandbank}; echo $? >{tmp_path / 'run.rc'}; }} &"
    # A non-interactive shell's background job: SIGINT arrives ignored. Its own session,
    # so the test can signal the run's process group without signalling itself.
    shell = subprocess.Popen(
        ["bash", "-c", command], start_new_session=True, stdin=subprocess.DEVNULL, env={**os.environ, **env}
    )
    shell.wait()
    run = Run(data_dir, shell, output)
    try:
        until(lambda: run.info().get("state") == "running", "the stack ready", run, timeout_s=90)
        yield run
    finally:
        if run.supervisor_alive():
            os.kill(run.info()["pid"], signal.SIGTERM)
            until(lambda: not run.supervisor_alive(), "the supervisor gone", run, timeout_s=30)


def test_dead_processes_are_restarted_and_sigint_stops_everything(tmp_path: Path) -> None:
    with background_run(tmp_path) as run:
        info = run.info()
        children = {name: pid for name, pid in info["pids"].items()}
        accounts = f"http://127.0.0.1:{info['ports']['accounts']}"

        os.kill(children["accounts"], signal.SIGKILL)
        until(lambda: run.info()["restarts"]["accounts"] == 1, "accounts restarted", run)
        until(lambda: ready(accounts), "accounts ready", run)
        assert ready(info["gateway_url"])
        assert "accounts exited unexpectedly (killed by SIGKILL)" in run.text()
        assert "restarting accounts in 0.5s" in run.text()
        assert "accounts ready again" in run.text()

        os.kill(children["broker"], signal.SIGKILL)
        again = "broker ready again on " + info["bootstrap_servers"]
        until(lambda: again in run.text(), "the broker restarted", run)
        assert run.info()["restarts"]["broker"] == 1
        assert run.info()["bootstrap_servers"] == info["bootstrap_servers"]
        until(lambda: ready(info["gateway_url"]), "the gateway ready", run)

        pids = [p for p in run.info()["pids"].values() if p] + list(children.values())
        os.killpg(run.shell.pid, signal.SIGINT)
        until(lambda: not run.supervisor_alive(), "the supervisor stopped", run, timeout_s=30)
        assert "Sandbank stopped." in run.text()
        until(lambda: run.exit_code() is not None, "the exit code", run, timeout_s=5)
        assert run.exit_code() == 0
        assert [p for p in pids if _alive(p)] == []
        host, _, port = info["bootstrap_servers"].rpartition(":")
        assert not port_open(host, int(port)), "Tansu outlived the stack"


def test_a_process_that_keeps_dying_stops_the_stack(tmp_path: Path) -> None:
    # The first restart after 0.05s rather than 0.5s: the four back-offs before the
    # supervisor gives up take 0.75s instead of 7.5s, and still double each time.
    with background_run(tmp_path, **{ENV_RESTART_BACKOFF: "0.05"}) as run:
        info = run.info()
        pid = info["pid"]
        # Payments cannot come back while its port is taken: every restart dies at once.
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            os.kill(info["pids"]["payments"], signal.SIGKILL)
            deadline = time.monotonic() + 5
            while True:
                try:
                    squatter.bind(("127.0.0.1", info["ports"]["payments"]))
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the port of payments stayed taken"
                    time.sleep(0.01)
            squatter.listen()
            until(lambda: not _alive(pid), "the supervisor giving up", run, timeout_s=90)
        text = run.text()
        assert "A process that dies is restarted (backoff 0.05s doubling to 10s)" in text
        delays = [line.strip() for line in text.splitlines() if line.strip().startswith("restarting payments in")]
        assert delays == [f"restarting payments in {d}s" for d in ("0.05", "0.1", "0.2", "0.4")], text
        assert f"payments died {RESTART_LIMIT} times within 60s; giving up and stopping Sandbank." in text
        assert "Sandbank stopped." in text
        until(lambda: run.exit_code() is not None, "the exit code", run, timeout_s=5)
        assert run.exit_code() == 1
        assert [p for p in info["pids"].values() if p and _alive(p)] == []


def test_a_killed_supervisor_leaves_no_process_behind(tmp_path: Path) -> None:
    """The services are forked from the supervisor's fork server (tools/spawn.py): when
    the supervisor dies without stopping them, the fork server exits and each one gets
    SIGTERM, as the broker's launcher does from the supervisor itself."""
    with background_run(tmp_path) as run:
        info = run.info()
        pids = [p for p in info["pids"].values() if p]
        assert len(pids) == 6, info["pids"]
        os.kill(info["pid"], signal.SIGKILL)
        until(lambda: not [p for p in pids if _alive(p)], "every process gone", run, timeout_s=30)
        host, _, port = info["bootstrap_servers"].rpartition(":")
        until(lambda: not port_open(host, int(port)), "Tansu gone", run, timeout_s=15)
        for name, port in info["ports"].items():
            assert not port_open("127.0.0.1", port), f"{name} still answers"
