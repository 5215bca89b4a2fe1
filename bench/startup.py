"""`make bench-startup`: how long a test suite waits for Sandbank, to start and to reset.

    python -m bench.startup [--runs 5] [--resets 10]

Each run starts a stack with `sandbank up --port 0 --json` and times the command from
launch to its answer (what a suite waits for), then stops it with `sandbank down`. A
cold run starts on an empty data dir (key pairs made, databases created at their newest
revision); a warm run restarts on the data dir a cold run left. On one stack it then times
`POST /v1/sandbox/reset`, as the operator, `--resets` times. Prints medians with the range
and the load average, and saves them to bench-results/startup-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.transfers import cpu_seconds
from sandbank_testing import Sandbank
from tools.stack import children_of

ROOT = Path(__file__).resolve().parents[1]
SANDBANK = [sys.executable, "-m", "tools.cli"]


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) spent so far by `root` and every process under it."""
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        todo += children_of(pid)
        total += cpu_seconds(pid)
    return total


def up(data_dir: Path) -> tuple[float, float, dict[str, Any]]:
    """Seconds `sandbank up --json` took, the CPU seconds the stack and the command spent
    to get there, and what it printed."""
    began = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [*SANDBANK, "up", "--port", "0", "--json", "--data-dir", str(data_dir), "--timeout", "120"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    took = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"`sandbank up` failed:\n{done.stderr}")
    info = json.loads(done.stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    command_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, command_cpu + tree_cpu_s(info["pid"]), info


def down(data_dir: Path) -> None:
    subprocess.run([*SANDBANK, "down", "--data-dir", str(data_dir)], capture_output=True, cwd=ROOT, check=True)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.startup", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold and warm starts each (5)")
    parser.add_argument("--resets", type=int, default=10, help="resets timed on one stack (10)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    cold: list[float] = []
    warm: list[float] = []
    resets: list[float] = []
    cpu: dict[str, list[float]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="sandbank-bench-startup-") as scratch:
        for run in range(args.runs):
            data_dir = Path(scratch) / f"run-{run}"
            for kind, times in (("cold", cold), ("warm", warm)):
                took, cpu_s, info = up(data_dir)
                # Stopped whatever happens: the scratch dir goes, a stack left running would not.
                try:
                    times.append(took)
                    cpu[kind].append(cpu_s)
                    print(f"  {kind} start {run + 1}/{args.runs}: {took:.2f}s, {cpu_s:.2f}s of CPU", flush=True)
                    if kind == "warm" and run == 0 and args.resets:
                        bank = Sandbank(info["gateway_url"])
                        bank.reset()  # the operator's login is not part of a reset
                        for _ in range(args.resets):
                            began = time.monotonic()
                            bank.reset()
                            resets.append(time.monotonic() - began)
                        bank.close()
                        print(f"  {args.resets} resets: median {statistics.median(resets):.3f}s", flush=True)
                finally:
                    down(data_dir)

    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "runs": args.runs,
        "cold_start": summary(cold),
        "warm_start": summary(warm),
        # CPU seconds the command and every process of the stack spent until ready: what
        # a busy machine's start-up grows with, steadier than the wall time on it.
        "cold_start_cpu": summary(cpu["cold"]),
        "warm_start_cpu": summary(cpu["warm"]),
        "reset": summary(resets) if resets else None,
    }
    print()
    for label, key in (
        ("cold start (empty data dir)", "cold_start"),
        ("warm start", "warm_start"),
        ("  its CPU, cold", "cold_start_cpu"),
        ("  its CPU, warm", "warm_start_cpu"),
        ("reset", "reset"),
    ):
        s = result[key]
        if s:
            print(f"{label:<28}  median {s['median_s']:.2f}s  ({s['min_s']:.2f}-{s['max_s']:.2f})")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"startup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
