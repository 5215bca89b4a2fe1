"""What a Sandbank nobody uses costs: the CPU of an idle stack, by process.

    python -m bench.idle [--seconds 60] [--settle 10]

Starts a stack with `sandbank up --port 0 --json` in a temporary data dir, waits
`--settle` seconds after it is ready (start-up's own work winds down), then reads every
process's user + system CPU from /proc at the start and the end of `--seconds` and prints
each process's share of one core and the total. Saves them to bench-results/idle-*.json.
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


def measure(root: int, seconds: float) -> dict[str, float]:
    """Each process's CPU over `seconds`, as a percentage of one core."""
    before = {name: cpu_seconds(pid) for name, pid in stack_processes(root).items()}
    before["supervisor"] = cpu_seconds(root)
    time.sleep(seconds)
    after = {name: cpu_seconds(pid) for name, pid in stack_processes(root).items()}
    after["supervisor"] = cpu_seconds(root)
    used = {name: 100 * (after[name] - before.get(name, 0.0)) / seconds for name in after}
    return dict(sorted(used.items(), key=lambda kv: -kv[1]))


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
            used = measure(int(info["pid"]), args.seconds)
        finally:
            down(data_dir)

    total = round(sum(used.values()), 2)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "seconds": args.seconds,
        "percent_of_one_core": {name: round(p, 2) for name, p in used.items()},
        "total_percent_of_one_core": total,
    }
    for name, percent in used.items():
        print(f"  {name:<12} {percent:6.2f}% of one core")
    print(f"  {'total':<12} {total:6.2f}% of one core over {args.seconds:.0f} s (load average {load_before[0]:.2f})")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"idle-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
