"""The chaos suite's command-line options and profiles: light to import, so `sandbank`
builds its parser without loading the suite's clients and plots (tools/chaos/cli.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FAULT_KINDS = ("kill", "stop", "broker", "drop", "duplicate", "delay", "clock", "restart")
# Every kind: a broker that comes back empty is recovered from the outboxes (ADR 0013).
DEFAULT_FAULTS = FAULT_KINDS


@dataclass(frozen=True)
class Profile:
    duration_s: float
    clients: int
    gap_s: tuple[float, float]  # between one fault's end and the next one's start
    fault_s: tuple[float, float]  # how long a SIGSTOP or a message fault lasts
    drain_timeout_s: float
    # Fewer faults than this and the run proved too little to pass (`--min-faults`).
    min_faults: int


PROFILES = {
    # A few minutes, for CI: about 15 faults.
    "short": Profile(
        duration_s=150, clients=8, gap_s=(2.0, 5.0), fault_s=(3.0, 8.0), drain_timeout_s=180, min_faults=8
    ),
    # Half an hour with a fault every ~6 s (a kill lasts until the process is ready again,
    # 5-20 s on a busy 2-core machine): 200 and more.
    "long": Profile(
        duration_s=1800, clients=10, gap_s=(0.2, 1.0), fault_s=(2.0, 5.0), drain_timeout_s=300, min_faults=200
    ),
}


def _pair(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    pair = (float(low), float(high or low))
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds with 0 <= MIN <= MAX, got {text!r}")
    return pair


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    if kinds == ("all",):
        return FAULT_KINDS
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown fault kinds {unknown}; choose from {', '.join(FAULT_KINDS)} or all")
    return kinds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default="short", help="short (CI, a few minutes) or long (30 min)"
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds of load and faults (the profile's)")
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (the profile's: 8 or 10)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the workload and the nemesis's schedule (1)")
    parser.add_argument(
        "--faults",
        type=_kinds,
        default=DEFAULT_FAULTS,
        help=f"comma-separated fault kinds from {', '.join(FAULT_KINDS)}, or all (default: {','.join(DEFAULT_FAULTS)})",
    )
    parser.add_argument("--interval", type=_pair, default=None, metavar="MIN,MAX", help="seconds between faults")
    parser.add_argument(
        "--fault-duration", type=_pair, default=None, metavar="MIN,MAX", help="seconds a timed fault lasts"
    )
    parser.add_argument("--drain-timeout", type=float, default=None, help="seconds the quiet period may take to drain")
    parser.add_argument("--data-dir", type=Path, default=None, help="the stack's data dir (a new temporary one)")
    parser.add_argument(
        "--min-faults", type=int, default=None, help="fail a run that injected fewer faults (the profile's: 8 or 200)"
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the data dir (kept anyway on a violation)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "chaos-results", help="where the report goes")
