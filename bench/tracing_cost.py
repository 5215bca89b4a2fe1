"""What tracing costs: `make bench` with tracing off and on, interleaved, in one session.

    python -m bench.tracing_cost [--pairs 3] [--rate 60] [--duration 10] [--warmup 2] [--customers 40]

Runs the same short bench (each with a fresh stack of its own) `--pairs` times with
`OTEL_SDK_DISABLED=true` and as many times with tracing on, alternating off, on, off,
on ..., so drift on a shared machine falls on both sides alike. The load is an open
loop at `--rate` transfers a second (`--rate 0`: the closed loop of `--concurrency`
clients): at the same rate both sides do the same work a second, so what an idle stack
burns anyway (consumers' fetch loops, the broker) weighs the same on each. Prints and saves
(bench-results/tracing-*.json) each run's stack CPU per completed transfer (every
process but the load generator), the medians of each side, and tracing's share of the
CPU with it on: 1 - off / on. The load average is recorded with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Not part of the stack: the load generator's own CPU, kept in its figures for the record.
CLIENT = "bench_client"


def stack_cpu_ms(result: dict[str, Any]) -> float:
    """The stack's CPU per completed transfer: every process but the load generator."""
    return round(sum(v for k, v in result["cpu_ms_per_transfer"].items() if k != CLIENT), 2)


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each side and tracing's share of the CPU per transfer with it on."""
    off = [r["stack_cpu_ms"] for r in runs if not r["tracing"]]
    on = [r["stack_cpu_ms"] for r in runs if r["tracing"]]
    if not off or not on:
        return {"off_ms": None, "on_ms": None, "ratio": None, "tracing_share": None}
    off_ms, on_ms = statistics.median(off), statistics.median(on)
    return {
        "off_ms": round(off_ms, 2),
        "on_ms": round(on_ms, 2),
        "ratio": round(on_ms / off_ms, 3),
        # Of the CPU a transfer costs with tracing on, the part tracing adds.
        "tracing_share": round(1 - off_ms / on_ms, 3),
        "off_completed_per_s": statistics.median(r["completed_per_s"] for r in runs if not r["tracing"]),
        "on_completed_per_s": statistics.median(r["completed_per_s"] for r in runs if r["tracing"]),
    }


def one_run(tracing: bool, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["OTEL_SDK_DISABLED"] = "false" if tracing else "true"
    before = set(out.glob("transfers-*.json"))
    command = [
        sys.executable,
        "-m",
        "bench.transfers",
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--customers",
        str(args.customers),
        *(["--rate", str(args.rate)] if args.rate else ["--concurrency", str(args.concurrency)]),
        "--data-dir",
        str(args.data_dir),
        "--out",
        str(out),
        "--no-plain",
        "--no-plot",
    ]
    load = os.getloadavg()[0]
    # A run whose checks failed (a saga not ended in time on a loaded machine) still has
    # figures; it is kept, and marked.
    done = subprocess.run(command, env=env, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    (saved,) = set(out.glob("transfers-*.json")) - before
    result = json.loads(saved.read_text())
    return {
        "tracing": tracing,
        "checks_passed": done.returncode == 0,
        "load_average": round(load, 2),
        "stack_cpu_ms": stack_cpu_ms(result),
        "completed_per_s": result["completed_per_s"],
        "cpu_ms_per_transfer": result["cpu_ms_per_transfer"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--rate", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "tracing-cost")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for tracing in (False, True):
                run = one_run(tracing, args, Path(tmp))
                runs.append(run)
                side = "on " if tracing else "off"
                print(
                    f"pair {i + 1}: tracing {side} {run['stack_cpu_ms']:6.2f} ms CPU/transfer, "
                    f"{run['completed_per_s']:6.1f} completed/s, load {run['load_average']}",
                    flush=True,
                )
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count()},
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "runs": runs,
        **summary(runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"tracing-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "params")}, indent=2))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
