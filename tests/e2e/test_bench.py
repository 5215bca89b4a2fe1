"""`make bench` against the shared stack, briefly: it drives transfers, waits for every
saga to end, and reports figures a reader can trust (counts that add up, the ledger)."""

from __future__ import annotations

import argparse
import os

import pytest

from bench.transfers import Bench
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
