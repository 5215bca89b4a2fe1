"""The chaos suite's small pure parts: its flags, the metrics it reads, its report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tools.chaos import cli, report
from tools.chaos.checker import Violation
from tools.chaos.model import History, Operation
from tools.chaos.nemesis import Fault
from tools.chaos.options import DEFAULT_FAULTS, FAULT_KINDS
from tools.chaos.target import SERVICES, Drain, backlog, parse_metrics


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_fault_kinds_are_chosen_by_flag() -> None:
    assert parse().faults == DEFAULT_FAULTS == FAULT_KINDS and "broker" in DEFAULT_FAULTS
    assert parse("--faults", "kill,broker").faults == ("kill", "broker")
    assert parse("--faults", "all").faults == FAULT_KINDS


@pytest.mark.parametrize(
    "argv", [("--faults", "kill,meteor"), ("--faults", ""), ("--interval", "5,2"), ("--interval", "-1,2")]
)
def test_bad_flags_are_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)


def test_the_long_profile_can_reach_200_faults_in_30_minutes() -> None:
    long = cli.PROFILES["long"]
    # The slowest fault of a timed kind ends after its duration; the gap comes on top.
    worst_cycle_s = long.gap_s[1] + long.fault_s[1]
    assert long.duration_s >= 1800 and long.duration_s / worst_cycle_s >= 160
    assert long.duration_s / ((long.gap_s[0] + long.gap_s[1]) / 2 + (long.fault_s[0] + long.fault_s[1]) / 2) >= 200


def test_metrics_are_read_by_name_and_labels() -> None:
    text = (
        '# HELP x\nsandbank_outbox_backlog{service="payments"} 3\n'
        'sandbank_consumer_lag{service="payments",consumer="accounts.events"} 0\n'
    )
    assert parse_metrics(text) == {
        'sandbank_outbox_backlog{service="payments"}': 3.0,
        'sandbank_consumer_lag{service="payments",consumer="accounts.events"}': 0.0,
    }


class MetricsOf:
    """An operator whose /metrics reads answer `texts` per service (the rest: nothing)."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    async def metrics(self, service: str) -> dict[str, float]:
        return parse_metrics(self.texts.get(service, ""))


async def test_a_lag_the_service_could_not_read_in_time_is_unreadable_not_zero() -> None:
    accounts = (
        'sandbank_consumer_lag{service="accounts",consumer="accounts"} 0\n'
        'sandbank_consumer_lag_stale{service="accounts",consumer="accounts"} 1\n'
        'sandbank_consumer_lag_age_seconds{service="accounts",consumer="accounts"} 42.5\n'
        'sandbank_consumer_lag{service="accounts",consumer="accounts-compliance"} 2\n'
        'sandbank_consumer_lag_stale{service="accounts",consumer="accounts-compliance"} 0\n'
        'sandbank_consumer_lag_age_seconds{service="accounts",consumer="accounts-compliance"} 0.01\n'
        'sandbank_consumer_lag_stale{service="accounts",consumer="never-read"} 1\n'
        'sandbank_consumer_lag_age_seconds{service="accounts",consumer="never-read"} -1\n'
    )
    outbox, lag, unreadable = await backlog(MetricsOf({"accounts": accounts}))  # type: ignore[arg-type]
    assert "accounts" in SERVICES and outbox == {}
    assert lag == {"accounts/accounts": 0, "accounts/accounts-compliance": 2}
    assert unreadable == [
        "accounts/accounts lag (stale: the broker did not answer in time; last read 42s ago)",
        "accounts/never-read lag (stale: the broker did not answer in time; never read)",
    ]
    drain = Drain(0, 0, 0, 0, lag, unreadable)
    assert not drain.drained and "stale" in drain.describe()


def test_the_report_counts_operations_faults_and_violations() -> None:
    history = History()
    history.add(
        Operation(
            "transfer", "k1", 0, 0.5, amount_minor=100, id="p1", answer="accepted", status="completed", answered_at=1.2
        )
    )
    history.add(Operation("bill", "k2", 0, 1.0, answer="refused", problem="limit-exceeded", answered_at=1.4))
    history.add(Operation("deposit", "k3", 1, 2.0))
    faults = [Fault("kill", "payments", 1.0, 4.0), Fault("drop", "accounts", 5.0, 9.0, error="RuntimeError: no")]
    built = report.build(
        profile="short",
        seed=3,
        args={},
        history=history,
        faults=faults,
        violations=[Violation("missing_effect", "p1 moved nothing")],
        load_s=10.0,
        quiet={"drained": True, "seconds": 2.5},
        client_errors={},
    )
    assert built["operations"] | {"by_kind": None, "refusals": None} == {
        "total": 3,
        "accepted": 1,
        "refused": 1,
        "unknown": 1,
        "completed": 1,
        "by_kind": None,
        "refusals": None,
    }
    assert built["operations"]["by_kind"]["transfer"] == {"accepted:completed": 1}
    assert built["faults"]["by_kind"]["drop"]["failed_to_inject"] == 1
    assert built["faults"]["by_kind"]["kill"] == {
        "count": 1,
        "failed_to_inject": 0,
        "targets": {"payments": 1},
        "seconds": 3.0,
    }
    assert not built["ok"]
    assert report.throughput(history, 3) == {"accepted": [0, 1, 0, 0], "refused": [0, 1, 0, 0], "unknown": [0, 0, 1, 0]}
    assert "missing_effect" in report.summary(built)


def _built(faults: int, by_kind: dict[str, dict[str, int]], drained: bool = True) -> dict:
    return {"faults": {"total": faults}, "operations": {"by_kind": by_kind}, "quiet_period": {"drained": drained}}


def test_a_run_that_proved_too_little_does_not_pass() -> None:
    strong = _built(
        12, {"transfer": {"accepted:completed": 9, "accepted:failed": 1}, "order_buy": {"accepted:filled": 2}}
    )
    assert cli.shortfalls(strong, 8) == []
    weak = _built(3, {"transfer": {"accepted:failed": 4}, "claim": {"accepted:closed": 1}}, drained=False)
    assert cli.shortfalls(weak, 8) == [
        "3 faults injected, fewer than 8",
        "no transfer succeeded (accepted:failed)",
        "the stack never drained",
    ]


def test_the_nemesis_never_kills_one_process_as_often_as_the_supervisor_gives_up_on() -> None:
    """Five deaths of one process within a minute stop the stack by design; the nemesis
    kills each process at most three times a minute, so it tests recovery, not that rule."""
    from tools.chaos.nemesis import Nemesis, Schedule

    now = [100.0]
    nemesis = Nemesis(None, None, Schedule(("kill", "broker"), (0, 0), (0, 0), 1), lambda: now[0])  # type: ignore[arg-type]
    for at in (50.0, 70.0, 90.0):
        nemesis.faults.append(Fault("broker", "broker", at))
    nemesis.faults.append(Fault("kill", "payments", 95.0))
    assert not nemesis._may_kill("broker")
    assert nemesis._may_kill("payments") and nemesis._may_kill("gateway")
    now[0] = 111.0  # the kill at 50 s is now more than a minute ago
    assert nemesis._may_kill("broker")


def test_a_drain_names_the_consumers_furthest_behind() -> None:
    lag = {"insurance/insurance": 398, "accounts/accounts": 139, "payments/payments": 0, "accounts/compliance": 297}
    state = Drain(0, 0, 0, 0, lag | {"gateway/feed": 2}, [])
    assert not state.drained and state.lag == 836
    assert state.describe().endswith(
        "lag 836 (insurance/insurance 398, accounts/compliance 297, accounts/accounts 139)"
    )
    caught_up = Drain(0, 0, 0, 0, {"payments/payments": 0}, [])
    assert caught_up.drained and caught_up.describe().endswith("lag 0")


def test_a_failed_run_names_the_errors_each_process_logged_most(tmp_path: Path) -> None:
    """A crash loop shows as one line with its count and its exception, numbers aside;
    warnings, info and lines that are not JSON (the launcher's banners) are not errors."""

    def line(level: str, msg: str, exc: str | None = None, logger: str = "shared.runtime") -> str:
        entry = {"level": level, "logger": logger, "msg": msg}
        if exc:
            entry["exc"] = exc
        return json.dumps(entry)

    crash = "Traceback (most recent call last):\n  ...\nRuntimeError: the handler is closed"
    (tmp_path / "securities.log").write_text(
        "\n".join(
            ["--- sandbank stack: starting services.securities ---"]
            + [line("error", f"securities crashed; restarting in {d}s", crash) for d in ("0.1", "0.2", "5.0")]
            + [line("warning", "offset commit failed"), line("info", "ready")]
            + [line("error", "Unable to update metadata from [111]", logger="aiokafka")]
        )
    )
    (tmp_path / "accounts.log").write_text(line("info", "ready") + "\n")
    found = report.log_errors(tmp_path)
    assert len(found) == 3, found
    assert "securities" in found[0] and "3x shared.runtime: securities crashed; restarting in 5.0s" in found[0]
    assert found[1].strip() == "RuntimeError: the handler is closed"
    assert "1x aiokafka: Unable to update metadata from [111]" in found[2]
