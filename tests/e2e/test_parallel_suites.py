"""Two suites at once, each with a Sandbank of its own (docs/adr/0014-one-stack-per-suite.md):
examples/parallel_suite run by two pytest-xdist workers at the same time, each moving its
clock, setting a fault, making customers and a payment and resetting, and each checking
it sees none of the other's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import SUITE_PYTEST
from tools.stack import PROJECT_ROOT, Stack

pytestmark = pytest.mark.e2e

PARALLEL_SUITE = PROJECT_ROOT / "examples" / "parallel_suite"


def run_two_workers(tmp_path: Path, **env: str) -> str:
    """examples/parallel_suite on two xdist workers at once, each running every test; the
    last line of its report once it passed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANDBANK_")}
    argv = [*SUITE_PYTEST, "-q", "--basetemp", str(tmp_path)]
    suite = subprocess.run(
        [*argv, "-n", "2", "--dist", "each", "-rs", "."],
        cwd=PARALLEL_SUITE,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    report = suite.stdout + suite.stderr
    assert suite.returncode == 0, report
    return suite.stdout.strip().splitlines()[-1]


@pytest.mark.timeout(600)
def test_two_workers_each_get_a_bank_the_other_cannot_reach(tmp_path: Path) -> None:
    assert "2 passed" in run_two_workers(tmp_path)
    data_dirs = [p for p in tmp_path.glob("popen-gw*/sandbank-gw*") if not p.is_symlink()]
    assert sorted(p.name for p in data_dirs) == ["sandbank-gw00", "sandbank-gw10"], "a stack per worker"
    assert sorted(p.name for p in (tmp_path / "peers").iterdir()) == [
        "made-gw0.json",
        "made-gw1.json",
        "reset-gw0.json",
        "reset-gw1.json",
    ]
    assert not [p for p in data_dirs if (p / "run.json").exists()], "each worker stopped its stack"


@pytest.mark.timeout(600)
def test_two_workers_share_one_stack_and_neither_sees_or_moves_what_is_the_others(stack: Stack, tmp_path: Path) -> None:
    """The same suite, both workers attached to one running stack (this run's own): the
    plugin refuses either the clock, faults and reset, and neither sees the other's
    customers, accounts or payments (examples/parallel_suite/test_shared_stack.py)."""
    assert "2 passed, 2 skipped" in run_two_workers(tmp_path, SANDBANK_URL=stack.gateway_url)
    assert not list(tmp_path.glob("popen-gw*/sandbank-gw*")), "no worker started a stack of its own"
    assert sorted(p.name for p in (tmp_path / "peers").iterdir()) == ["shared-gw0.json", "shared-gw1.json"]
