"""The pictures of `make bench` (matplotlib, no display needed).

`plot_run` draws one run beside its JSON (`transfers-*.png`): transfers accepted and
completed per second, and the p50/p90/p99 accept and completion latency, over the run.
`plot_history` draws every run in a folder of results (`history.png`): completed
transfers per second and the stack's CPU per transfer, run by run, and the CPU ratio to
the plainest bank where the run measured it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: a bench runs where there is no display

import matplotlib.pyplot as plt

HISTORY = "history.png"


def _series(timeline: list[dict[str, Any]], kind: str, p: str) -> list[float]:
    return [float("nan") if s[kind][p] is None else s[kind][p] for s in timeline]


def plot_run(json_path: Path) -> Path:
    """The run's throughput and latency per second, as a PNG beside its JSON."""
    result = json.loads(json_path.read_text())
    timeline = result.get("timeline") or []
    t = [s["t"] for s in timeline]
    fig, (rate, accept, done) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    title = f"Sandbank {result.get('mode', '')}, {result.get('when', '')}"
    if "against_plain" in result:
        versus = result["against_plain"]
        title += (
            f"\n{versus['sandbank_completed_per_s']}/s at {versus['sandbank_cpu_ms_per_transfer']} ms CPU each; "
            f"plain bank {versus['plain_completed_per_s']}/s at {versus['plain_cpu_ms_per_transfer']} ms "
            f"(CPU ratio {versus['cpu_ratio']})"
        )
    fig.suptitle(title, fontsize=10)
    rate.plot(t, [s["accepted"] for s in timeline], label="accepted")
    rate.plot(t, [s["completed"] for s in timeline], label="completed")
    rate.set_ylabel("transfers per second")
    for axis, kind, name in ((accept, "accept_ms", "accept"), (done, "completion_ms", "completion")):
        for p in ("p50", "p90", "p99"):
            axis.plot(t, _series(timeline, kind, p), label=f"{name} {p}")
        axis.set_ylabel("ms")
    done.set_xlabel("seconds into the measured load")
    for axis in (rate, accept, done):
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize=8)
    out = json_path.with_suffix(".png")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def history(folder: Path) -> list[dict[str, Any]]:
    """Every transfers run saved in `folder`, oldest first: its time, completed/s, the
    stack's CPU per transfer and, where measured, the CPU ratio to the plain bank."""
    runs = []
    for path in sorted(folder.glob("transfers-*.json")):
        result = json.loads(path.read_text())
        cpu = result.get("stack_cpu_ms_per_transfer")
        if cpu is None:  # runs saved before the sum was: add it up here
            cpu = round(sum(v for k, v in result.get("cpu_ms_per_transfer", {}).items() if k != "bench_client"), 2)
        runs.append(
            {
                "run": path.stem.removeprefix("transfers-"),
                "completed_per_s": result.get("completed_per_s"),
                "cpu_ms": cpu,
                "cpu_ratio": (result.get("against_plain") or {}).get("cpu_ratio"),
            }
        )
    return runs


def plot_history(folder: Path) -> Path:
    """Throughput, CPU per transfer and the ratio to the plain bank across every run in
    `folder`, as `folder/history.png`."""
    runs = history(folder)
    x = list(range(len(runs)))
    fig, (rate, cpu, ratio) = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    fig.suptitle(f"make bench, {len(runs)} runs in {folder.name}/", fontsize=10)
    rate.plot(x, [r["completed_per_s"] for r in runs], "o-")
    rate.set_ylabel("completed/s")
    cpu.plot(x, [r["cpu_ms"] for r in runs], "o-", color="tab:red")
    cpu.set_ylabel("stack CPU ms per transfer")
    ratio.plot(x, [float("nan") if r["cpu_ratio"] is None else r["cpu_ratio"] for r in runs], "o", color="tab:green")
    ratio.set_ylabel("CPU ratio to plain bank")
    ratio.set_xticks(x, [r["run"] for r in runs], rotation=60, ha="right", fontsize=7)
    for axis in (rate, cpu, ratio):
        axis.grid(alpha=0.3)
        axis.set_ylim(bottom=0)
    fig.tight_layout()
    out = folder / HISTORY
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
