"""`sandbank up|down|status|reset|clock|faults` and the pytest plugin, without a stack:
the command line, durations, what `up --json` says, the refusals made before any request."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from sandbank_testing import Sandbank, SandbankError, parse_duration, plugin
from shared.sandbox import DEMO_USERS, OPERATOR
from tools import cli, launcher, stack

# Nothing listens on port 9 (discard): a request there would fail, so a test passing
# with it shows the refusal came before any request.
NOWHERE = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1d2h", 93_600), ("90m", 5_400), ("45s", 45), ("1.5h", 5_400), ("30", 30), ("2d", 172_800), ("1h30m15s", 5_415)],
)
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "d", "1d 2h", "-1h", "1h-", "h1"])
def test_what_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["up"], launcher.up),
        (["down"], launcher.down),
        (["status"], launcher.status),
        (["reset"], launcher._control),
        (["clock"], launcher._control),
        (["faults"], launcher._control),
    ],
)
def test_each_command_reaches_its_handler(argv: list[str], handler: object) -> None:
    assert cli.parser().parse_args(argv).handler is handler


def test_up_defaults_to_make_runs_ports_and_data() -> None:
    args = cli.parser().parse_args(["up"])

    assert (args.data_dir, args.port, args.json, args.timeout) == (".data", 8000, False, 60)


@pytest.mark.parametrize(
    "argv",
    [
        ["clock", "--advance", "1d", "--set", "2030-01-01T00:00:00+00:00"],
        ["faults", "--service", "ledger", "--kind", "drop"],
        ["faults", "--service", "payments", "--kind", "corrupt"],
        ["up", "--port", "eighty"],
    ],
)
def test_the_command_line_refuses(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(argv)


def test_up_describes_every_address_the_logins_and_the_operator() -> None:
    info = {
        "pid": 4242,
        "gateway_url": "http://127.0.0.1:8000",
        "ports": {"accounts": 8001, "payments": 8002, "securities": 8003, "insurance": 8004, "gateway": 8000},
        "bootstrap_servers": "127.0.0.1:9092",
        "data_dir": "/tmp/sandbank",
    }

    described = launcher.describe(info, ready_s=4.321, operator_token="token")

    assert json.loads(json.dumps(described)) == described
    assert described["services"] == {
        "accounts": "http://127.0.0.1:8001",
        "payments": "http://127.0.0.1:8002",
        "securities": "http://127.0.0.1:8003",
        "insurance": "http://127.0.0.1:8004",
    }
    assert (described["gateway_url"], described["bootstrap_servers"], described["pid"]) == (
        "http://127.0.0.1:8000",
        "127.0.0.1:9092",
        4242,
    )
    assert (described["data_dir"], described["logs_dir"], described["ready_s"]) == (
        "/tmp/sandbank",
        "/tmp/sandbank/logs",
        4.32,
    )
    assert [u["phone"] for u in described["demo_logins"]] == [u.phone for u in DEMO_USERS]
    assert described["operator"] == {"phone": OPERATOR.phone, "password": OPERATOR.password, "access_token": "token"}


def test_a_data_dir_nobody_runs_in_is_not_running(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"pid": 1, "state": "running"}))  # stale

    assert launcher._running_info(tmp_path) is None
    assert launcher._running_info(tmp_path / "never-made") is None


def test_up_refuses_a_data_dir_a_stack_runs_in(tmp_path: Path) -> None:
    held = stack._lock(tmp_path)
    assert held is not None
    (tmp_path / "run.json").write_text(json.dumps({"pid": 4242, "gateway_url": "http://127.0.0.1:8000"}))
    try:
        with pytest.raises(launcher.LauncherError, match=r"already up .*pid 4242.*sandbank down"):
            launcher.start_detached(tmp_path, 0, 5)
    finally:
        held.close()
    assert not (tmp_path / "logs").exists(), "nothing was started"


def test_the_controls_say_when_no_stack_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reset", "--data-dir", str(tmp_path)]) == 1

    assert "Sandbank is not running in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (lambda bank: bank.clock.advance(-5), "only moves forward"),
        (lambda bank: bank.clock.advance("1h", days=-1), "only moves forward"),
        (lambda bank: bank.clock.set(datetime(2030, 1, 1)), "no time zone"),
        (lambda bank: bank.clock.set("2020-01-01T00:00:00+00:00"), "has passed"),
        (lambda bank: bank.clock.set(datetime.now().astimezone() - timedelta(minutes=1)), "has passed"),
        (lambda bank: bank.set_fault("payments", "corrupt"), "no fault kind"),
    ],
)
def test_a_control_the_stack_would_refuse_is_refused_before_asking(move: object, message: str) -> None:
    with pytest.raises(SandbankError, match=message):
        move(Sandbank(NOWHERE))  # type: ignore[operator]


def test_installing_sandbank_registers_the_pytest_plugin(pytestconfig: pytest.Config) -> None:
    [plugin] = [e for e in entry_points(group="pytest11") if e.name == "sandbank"]

    assert plugin.value == "sandbank_testing.plugin"
    assert pytestconfig.pluginmanager.has_plugin("sandbank")


def test_the_plugins_fixtures_carry_its_prefix() -> None:
    # None may shadow a suite's own (tests/e2e has `stack`, `gateway`, `customer`).
    fixture_type = type(plugin.sandbank)
    ours = sorted(f.name for f in vars(plugin).values() if isinstance(f, fixture_type))

    assert ours == [
        "sandbank",
        "sandbank_client",
        "sandbank_customer",
        "sandbank_investor",
        "sandbank_policyholder",
        "sandbank_webhooks",
    ]


def test_loading_the_plugin_loads_no_part_of_the_bank() -> None:
    code = (
        "import sys, sandbank_testing.plugin; "
        "print([m for m in sys.modules if m.split('.')[0] in ('tools', 'shared', 'gateway', 'services')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip() == "[]"
