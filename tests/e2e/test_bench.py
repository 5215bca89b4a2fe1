"""`make bench` against the shared stack, briefly: it drives transfers, waits for every
saga to end, and reports figures a reader can trust (counts that add up, the ledger)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from bench.transfers import Bench, PlainBench, against_plain, plain_bank
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def test_the_bench_drives_transfers_and_reports_figures_that_add_up(stack: Stack) -> None:
    args = argparse.Namespace(concurrency=4, rate=None, duration=2.0, warmup=0.5, customers=6, seed=7)

    result = await Bench(stack.gateway_url, stack.bootstrap_servers, args, os.getpid()).run()

    assert result["accepted"] > 0
    assert result["request_errors"] == {}
    # Every accepted transfer ended, completed or failed with a reason (velocity, say).
    assert result["not_terminal_after_60s"] == 0
    assert result["completed"] + sum(result["failures_by_reason"].values()) == result["accepted"]
    assert result["ledger_ok"] is True
    assert result["payments_summary"]["non_terminal"] == 0
    latency = result["accept_latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert {"gateway", "payments", "accounts", "broker", "bench_client"} <= set(result["cpu_ms_per_transfer"])
    assert sum(s["accepted"] for s in result["timeline"]) == result["accepted"]
    # Each second splits its CPU by process; the halves set the run's first second beside its last.
    assert {"gateway", "payments", "accounts", "broker"} <= set(result["timeline"][0]["cpu_ms"])
    assert (result["halves"]["first"]["seconds"], result["halves"]["second"]["seconds"]) == ([0, 1], [1, 2])


async def test_the_same_load_drives_the_plain_bank_and_the_comparison_adds_up(tmp_path: Path) -> None:
    args = argparse.Namespace(concurrency=4, rate=None, duration=1.5, warmup=0.3, customers=6, seed=7)

    with plain_bank(tmp_path / "plain.sqlite") as (url, pid):
        plain = await PlainBench(url, args, pid).run()

    # Answered is ended: every accepted transfer completed or failed in its own transaction.
    assert plain["accepted"] > 0 and plain["request_errors"] == {}
    assert plain["completed"] + sum(plain["failures_by_reason"].values()) == plain["accepted"]
    assert plain["not_terminal_after_60s"] == 0
    assert plain["ledger_ok"] is True
    assert set(plain["cpu_ms_per_transfer"]) == {"plainbank", "bench_client"}
    assert plain["stack_cpu_ms_per_transfer"] > 0
    assert sum(s["accepted"] for s in plain["timeline"]) == plain["accepted"]
    versus = against_plain({"stack_cpu_ms_per_transfer": 8.0, "completed_per_s": 100.0}, plain)
    assert versus["cpu_ratio"] == round(8.0 / plain["stack_cpu_ms_per_transfer"], 2)
