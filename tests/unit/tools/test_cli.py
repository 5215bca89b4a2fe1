"""`sandbank`, the developer's command line: what the Makefile's targets run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools import cli, launcher, stack


def test_asyncapi_check_passes_on_the_checked_in_documents() -> None:
    assert cli.main(["asyncapi", "--check"]) == 0


def test_asyncapi_write_and_check_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["asyncapi", "--write", "--check"])


@pytest.mark.parametrize(
    ("argv", "handler"),
    [(["run", "--port", "9000"], stack.run), (["stop", "--data-dir", "/tmp/x"], stack.stop)],
)
def test_run_and_stop_reach_the_local_supervisor(argv: list[str], handler: object) -> None:
    assert cli.parser().parse_args(argv).handler is handler


def test_run_takes_what_make_run_passes() -> None:
    args = cli.parser().parse_args(["run", "--data-dir", ".data", "--port", "8000"])

    assert (args.data_dir, args.port, args.bootstrap_servers, args.services) == (".data", 8000, None, None)


@pytest.mark.parametrize("command", ["up", "run"])
def test_up_and_run_parse_what_the_whole_command_line_would(command: str) -> None:
    argv = [command, "--data-dir", "/tmp/x", "--port", "0", "--timeout", "9"]

    alone, whole = cli.parser(command).parse_args(argv), cli.parser().parse_args(argv)

    assert vars(alone) == vars(whole) and alone.handler in (launcher.up, stack.run)


@pytest.mark.parametrize("command", ["up", "run"])
def test_up_and_run_start_without_the_other_commands_imports(command: str) -> None:
    """What a test suite waits on: neither imports the testing client or httpx before it
    starts its work (`up` the supervisor, `run` the fork server)."""
    probe = (
        "import sys; from tools import cli; "
        f"cli.parser({command!r}).parse_args([{command!r}]); "
        "print(sorted(m for m in ('httpx', 'sandbank_testing', 'shared.keys') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=stack.PROJECT_ROOT)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_migration_takes_a_process_and_a_message() -> None:
    args = cli.parser().parse_args(["migration", "payments", "saga columns"])

    assert (args.service, args.message, args.empty) == ("payments", "saga columns", False)


def test_migration_refuses_a_process_that_does_not_exist() -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["migration", "ledger", "saga columns"])


@pytest.mark.parametrize(("deaths", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 10.0), (20, 10.0)])
def test_a_dead_process_is_restarted_after_a_doubling_delay(deaths: int, delay: float) -> None:
    assert stack.restart_delay(deaths) == delay


@pytest.mark.parametrize(("given", "backoff"), [("", (0.5, 10.0)), ("0.05", (0.05, 10.0)), (" 30 ", (30.0, 30.0))])
def test_the_first_restart_delay_can_be_set_and_the_last_is_never_below_it(
    given: str, backoff: tuple[float, float]
) -> None:
    chosen = stack.restart_backoff({stack.ENV_RESTART_BACKOFF: given})

    assert chosen == backoff
    assert [stack.restart_delay(d, chosen) for d in (1, 2)] == [backoff[0], min(2 * backoff[0], backoff[1])]


@pytest.mark.parametrize("given", ["0", "-1", "soon", "nan", "inf"])
def test_run_refuses_a_restart_delay_that_is_not_a_positive_number(
    given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(stack.ENV_RESTART_BACKOFF, given)

    assert cli.main(["run", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert f"{stack.ENV_RESTART_BACKOFF} must be a positive number of seconds, not {given!r}" in capsys.readouterr().err
    assert not (tmp_path / "run.json").exists()


def test_run_help_states_the_restart_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"dies {stack.RESTART_LIMIT} times within {stack.RESTART_WINDOW_S:.0f}s stops the stack" in text


@pytest.mark.parametrize("db_url", [None, "sqlite+aiosqlite:///x.db"])
def test_run_refuses_replicas_on_sqlite(
    db_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DB_URL", raising=False)
    argv = ["run", "--replicas", "2", "--data-dir", str(tmp_path), *(["--db-url", db_url] if db_url else [])]
    assert cli.main(argv) == 2
    assert "2 replicas need PostgreSQL" in capsys.readouterr().err
    assert not (tmp_path / "run.json").exists()
