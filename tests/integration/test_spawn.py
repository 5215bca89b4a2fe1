"""tools/spawn.py: a process forked from the fork server is what `python -m` would start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tools import spawn
from tools.stack import PROJECT_ROOT

pytestmark = pytest.mark.skipif(not spawn.forking(sys.executable), reason="forking needs Linux")


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to
    check; without it (and the accounts app of each database backend it asks for) each
    test runs once, not once per backend."""


def start(tmp_path: Path, **env: str) -> tuple[spawn.Forked, Path]:
    log = tmp_path / "probe.log"
    os.environ["PROBE_NOT_PASSED"] = "from the parent"
    try:
        child = spawn.start("probe", "tests.integration.probe", {"PROBE_VALUE": "given", **env}, log, PROJECT_ROOT)
    finally:
        del os.environ["PROBE_NOT_PASSED"]
    return child, log


def test_the_child_runs_the_module_as_main_with_only_its_own_environment(tmp_path: Path) -> None:
    child, log = start(tmp_path, PROBE_EXIT="3")
    assert child.wait(30) == 3 and child.returncode == 3 and child.poll() == 3
    first, second = log.read_text().splitlines()[:2]
    seen = json.loads(first)
    assert seen == {
        "name": "__main__",
        "argv": [str(PROJECT_ROOT / "tests/integration/probe/__main__.py")],  # as `python -m` sets it
        "cwd": str(PROJECT_ROOT),
        "probe": "given",
        "inherited": None,  # the environment is the one given, nothing of the parent's
        "own_group": True,  # a terminal's Ctrl-C reaches the supervisor, not the child
        "comm": "sb-probe",
        "preloaded": True,  # imported by the fork server, with the collector off meanwhile
        "collecting": True,  # but on again for what the process does
    }
    assert second == "to stderr"


def test_signals_reach_the_child_and_its_end_is_reported(tmp_path: Path) -> None:
    child, _ = start(tmp_path, PROBE_SLEEP="60")
    assert child.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.2)
    child.terminate()
    assert child.wait(10) == -signal.SIGTERM
    child.kill()  # on a process that is gone: nothing, as Popen does


def test_a_failing_module_exits_non_zero_with_its_traceback_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "missing.log"
    child = spawn.start("missing", "tests.integration.no_such_module", {}, log, PROJECT_ROOT)
    assert child.wait(30) == 1
    assert "No module named tests.integration.no_such_module" in log.read_text()


def test_sandbank_fork_0_starts_processes_by_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    assert spawn.forking(sys.executable)
    monkeypatch.setenv(spawn.ENV_FORK, "0")
    assert not spawn.forking(sys.executable)
    monkeypatch.delenv(spawn.ENV_FORK)
    assert not spawn.forking("/usr/bin/python3-elsewhere")
