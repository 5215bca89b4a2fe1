"""What a Sandbank nobody uses costs: the CPU of an idle stack, by process.

    python -m bench.idle [--seconds 60] [--settle 10]

Starts a stack with `sandbank up --port 0 --json` in a temporary data dir, waits
`--settle` seconds after it is ready (start-up's own work winds down), then reads every
process's user + system CPU from /proc at the start and the end of `--seconds` and prints
each process's share of one core and the total, and how often each woke up. Saves them to
bench-results/idle-*.json.

The CPU figures move with whatever else the machine runs; the wake-ups (context switches
of every thread, from /proc/<pid>/task/*/status) are what an idle process's cost grows
with, and count the same on a busy machine: compare those when the load is high.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.startup import down, up
from bench.transfers import cpu_seconds, stack_processes

ROOT = Path(__file__).resolve().parents[1]


def context_switches(pid: int) -> int:
    """How many times the threads of a process alive now have been switched out so far,
    waiting (voluntary: a timer, a socket) or pre-empted. A thread that ended took its
    count with it, so a process's count may go down when a worker thread ends."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if "ctxt_switches:" in line)
    return total


def processes(root: int) -> dict[str, int]:
    return {**stack_processes(root), "supervisor": root}


def measure(root: int, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """Each process's CPU over `seconds`, as a percentage of one core, and its wake-ups
    per second."""
    pids = processes(root)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    woke_before = {name: context_switches(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    used = {name: 100 * (cpu_seconds(pid) - cpu_before[name]) / seconds for name, pid in pids.items()}
    woke = {name: (context_switches(pid) - woke_before[name]) / seconds for name, pid in pids.items()}
    order = sorted(used, key=lambda name: -used[name])
    return {name: used[name] for name in order}, {name: woke[name] for name in order}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.idle", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long to measure (60)")
    parser.add_argument("--settle", type=float, default=10, help="seconds to wait after ready first (10)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sandbank-bench-idle-") as scratch:
        data_dir = Path(scratch)
        _took, _cpu, info = up(data_dir)
        try:
            time.sleep(args.settle)
            load_before = os.getloadavg()
            used, woke = measure(int(info["pid"]), args.seconds)
        finally:
            down(data_dir)

    total = round(sum(used.values()), 2)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "seconds": args.seconds,
        "percent_of_one_core": {name: round(p, 2) for name, p in used.items()},
        "total_percent_of_one_core": total,
        "wakeups_per_s": {name: round(w, 1) for name, w in woke.items()},
        "total_wakeups_per_s": round(sum(woke.values()), 1),
    }
    for name, percent in used.items():
        print(f"  {name:<12} {percent:6.2f}% of one core  {woke[name]:7.1f} wake-ups/s")
    print(
        f"  {'total':<12} {total:6.2f}% of one core  {sum(woke.values()):7.1f} wake-ups/s"
        f" over {args.seconds:.0f} s (load average {load_before[0]:.2f})"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"idle-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
