"""`sandbank up --json` and the commands that drive what it started, run as a test suite in
another language would run them; and the example suite (examples/test_suite) passing
against a stack the pytest plugin starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbank_testing import Sandbank
from tests.e2e.conftest import SUITE_PYTEST
from tools.broker import port_open
from tools.stack import PROJECT_ROOT

pytestmark = pytest.mark.e2e

SANDBANK = [sys.executable, "-m", "tools.cli"]
EXAMPLE_SUITE = PROJECT_ROOT / "examples" / "test_suite"


def sandbank(*argv: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SANDBANK_URL"}
    return subprocess.run(
        [*SANDBANK, *argv], capture_output=True, text=True, timeout=timeout_s, env=env, cwd=PROJECT_ROOT, check=False
    )


def answer(*argv: str) -> Any:
    done = sandbank(*argv, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """A stack `sandbank up --port 0 --json` started; its data dir and what `up` printed."""
    data_dir = str(tmp_path_factory.mktemp("launched"))
    up = sandbank("up", "--port", "0", "--json", "--data-dir", data_dir, "--timeout", "90", timeout_s=150)
    assert up.returncode == 0, up.stderr
    try:
        yield data_dir, json.loads(up.stdout)
    finally:
        sandbank("down", "--data-dir", data_dir)


def test_up_prints_every_address_and_a_working_operator_token(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, up = launched

    assert ready(up["gateway_url"])
    assert sorted(up["services"]) == ["accounts", "insurance", "payments", "securities"]
    assert all(ready(url) for url in up["services"].values())
    host, _, port = up["bootstrap_servers"].rpartition(":")
    assert port_open(host, int(port))
    assert (up["data_dir"], up["ready_s"] > 0) == (data_dir, True)
    assert {"+8613800000001", "+8613900000000"} <= {u["phone"] for u in up["demo_logins"]}
    operator = {"authorization": f"Bearer {up['operator']['access_token']}"}
    check = httpx.get(f"{up['gateway_url']}/v1/admin/ledger/check", headers=operator, trust_env=False)
    assert (check.status_code, check.json()["ok"]) == (200, True)


def test_status_names_each_process_and_its_readiness(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, up = launched

    status = answer("status", "--data-dir", data_dir)

    assert (status["running"], status["ready"], status["pid"], status["gateway_url"]) == (
        True,
        True,
        up["pid"],
        up["gateway_url"],
    )
    processes = status["processes"]
    assert sorted(processes) == ["accounts", "broker", "gateway", "insurance", "payments", "securities"]
    assert {p["state"] for p in processes.values()} == {"ready"}
    assert all(alive(p["pid"]) for p in processes.values())


def test_a_second_up_on_the_same_data_is_refused(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, up = launched

    again = sandbank("up", "--port", "0", "--json", "--data-dir", data_dir)

    assert again.returncode == 1
    assert f"already up in {data_dir} (pid {up['pid']}" in again.stderr
    assert again.stdout == ""


def test_the_clock_moves_forward_and_says_where_it_is(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, _ = launched
    before = answer("clock", "--data-dir", data_dir)

    moved = answer("clock", "--data-dir", data_dir, "--advance", "1d2h")

    assert moved["offset_s"] >= before["offset_s"] + 93_600
    refused = sandbank("clock", "--data-dir", data_dir, "--set", "2020-01-01T00:00:00+00:00")
    assert (refused.returncode, "has passed" in refused.stderr) == (1, True)


def test_faults_are_set_listed_and_cleared(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, up = launched

    answer("faults", "--data-dir", data_dir, "--service", "payments", "--kind", "delay", "--seconds", "60")
    listed = {f["service"]: f for f in answer("faults", "--gateway", up["gateway_url"])["items"]}
    cleared = {f["service"]: f["mode"] for f in answer("faults", "--data-dir", data_dir, "--clear")["items"]}

    assert sorted(listed) == ["accounts", "gateway", "insurance", "payments", "securities"]
    assert (listed["payments"]["mode"], listed["payments"]["remaining_s"] > 50) == ("delay", True)
    assert listed["accounts"]["mode"] == "none"
    assert set(cleared.values()) == {"none"}


def test_reset_puts_every_process_back(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, up = launched
    phone = "+8613712345678"
    asked = httpx.post(f"{up['gateway_url']}/v1/auth/registrations", json={"phone": phone}, trust_env=False)
    assert asked.status_code == 202

    reset = answer("reset", "--data-dir", data_dir)

    assert set(reset["services"]) == {"accounts", "payments", "securities", "insurance", "gateway"}
    assert set(reset["services"].values()) == {"reset"}
    operator = {"authorization": f"Bearer {up['operator']['access_token']}"}
    inbox = httpx.get(
        f"{up['gateway_url']}/v1/sandbox/inbox", params={"phone": phone}, headers=operator, trust_env=False
    )
    assert inbox.status_code == 401, "a reset ends every session but the demo users' new ones"


def test_a_fault_block_clears_its_fault_also_when_the_block_fails(launched: tuple[str, dict[str, Any]]) -> None:
    _, up = launched
    bank = Sandbank(up["gateway_url"])
    try:
        with pytest.raises(RuntimeError, match="the test failed"), bank.fault("payments", "duplicate", seconds=60):
            assert {f["service"]: f["mode"] for f in bank.faults()}["payments"] == "duplicate"
            raise RuntimeError("the test failed")
        assert {f["service"]: f["mode"] for f in bank.faults()}["payments"] == "none"
    finally:
        bank.close()


def test_down_stops_every_process_and_then_nothing_answers(launched: tuple[str, dict[str, Any]]) -> None:
    data_dir, up = launched
    pids = [p["pid"] for p in answer("status", "--data-dir", data_dir)["processes"].values()] + [up["pid"]]

    down = sandbank("down", "--data-dir", data_dir)

    assert down.returncode == 0, down.stderr
    assert "Sandbank stopped." in down.stdout
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if alive(pid)]
    status = sandbank("status", "--data-dir", data_dir, "--json")
    assert (status.returncode, json.loads(status.stdout)["running"]) == (3, False)
    reset = sandbank("reset", "--data-dir", data_dir)
    assert (reset.returncode, "Sandbank is not running" in reset.stderr) == (1, True)


def test_up_that_cannot_get_ready_in_time_says_why_and_leaves_nothing(tmp_path: Path) -> None:
    # Too little time for the broker: `sandbank run` gives up, and `up` shows its log.
    up = sandbank("up", "--port", "0", "--json", "--data-dir", str(tmp_path), "--timeout", "0.01")

    assert up.returncode == 1
    assert "Sandbank did not start" in up.stderr
    assert "was not ready after" in up.stderr, up.stderr
    assert str(tmp_path / "logs" / "run.log") in up.stderr
    status = sandbank("status", "--data-dir", str(tmp_path), "--json")
    assert json.loads(status.stdout)["running"] is False


@pytest.mark.timeout(600)
def test_the_example_suite_passes_against_a_stack_the_plugin_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBANK_URL")}
    suite = subprocess.run(
        [*SUITE_PYTEST, "-q", "-rA", "--basetemp", str(tmp_path), "."],
        cwd=EXAMPLE_SUITE,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )

    report = suite.stdout + suite.stderr
    assert suite.returncode == 0, report
    summary = suite.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    # The webhooks it expects arrived, signed as docs/webhooks.md says.
    assert "PASSED test_webhooks.py::test_the_payer_hears_that_the_payment_went_through" in suite.stdout, report
    assert not list(tmp_path.glob("sandbank*/run.json")), "the plugin stopped the stack it started"
