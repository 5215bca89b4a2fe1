"""`sandbank`, the developer's command line: what the Makefile's targets run."""

from __future__ import annotations

import pytest

from tools import cli, stack


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


def test_migration_takes_a_process_and_a_message() -> None:
    args = cli.parser().parse_args(["migration", "payments", "saga columns"])

    assert (args.service, args.message, args.empty) == ("payments", "saga columns", False)


def test_migration_refuses_a_process_that_does_not_exist() -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["migration", "ledger", "saga columns"])
