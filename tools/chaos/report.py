"""The run's report: JSON with every figure and violation, a PNG timeline (throughput per
second, faults as shaded spans, the quiet period until drained), a printed summary."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from tools.chaos.checker import Violation
from tools.chaos.model import History
from tools.chaos.nemesis import Fault
from tools.stack import log_record

COLOURS = {
    "kill": "tab:red",
    "stop": "tab:orange",
    "broker": "tab:purple",
    "drop": "tab:blue",
    "duplicate": "tab:cyan",
    "delay": "tab:green",
    "clock": "tab:olive",
    "restart": "tab:brown",
}


def faults_by_kind(faults: list[Fault]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fault in faults:
        row = out.setdefault(fault.kind, {"count": 0, "failed_to_inject": 0, "targets": Counter(), "seconds": 0.0})
        row["count"] += 1
        row["targets"][fault.target] += 1
        row["seconds"] = round(row["seconds"] + (fault.ended_at or fault.started_at) - fault.started_at, 1)
        if fault.error:
            row["failed_to_inject"] += 1
    return {k: {**v, "targets": dict(v["targets"])} for k, v in sorted(out.items())}


def throughput(history: History, seconds: int) -> dict[str, list[int]]:
    """Per second of the run: operations answered accepted, refused, and unknown."""
    series = {"accepted": [0] * (seconds + 1), "refused": [0] * (seconds + 1), "unknown": [0] * (seconds + 1)}
    for op in history.operations:
        at = int(op.answered_at if op.answered_at is not None else op.started_at)
        if 0 <= at <= seconds:
            series[op.answer][at] += 1
    return series


def build(
    *,
    profile: str,
    seed: int,
    args: dict[str, Any],
    history: History,
    faults: list[Fault],
    violations: list[Violation],
    load_s: float,
    quiet: dict[str, Any],
    client_errors: dict[str, int],
) -> dict[str, Any]:
    accepted = [op for op in history.operations if op.answer == "accepted"]
    return {
        "profile": profile,
        "seed": seed,
        "args": args,
        "load_s": round(load_s, 1),
        "operations": {
            "total": len(history.operations),
            "accepted": len(accepted),
            "refused": sum(1 for op in history.operations if op.answer == "refused"),
            "unknown": sum(1 for op in history.operations if op.answer == "unknown"),
            "completed": sum(1 for op in accepted if op.done),
            "by_kind": history.counts(),
            "refusals": dict(Counter(op.problem for op in history.operations if op.answer == "refused")),
        },
        "faults": {
            "total": len(faults),
            "by_kind": faults_by_kind(faults),
            "log": [f.as_dict() for f in faults],
        },
        "quiet_period": quiet,
        "client_errors": client_errors,
        "violations": [v.as_dict() for v in violations],
        "ok": not violations,
    }


def write(report: dict[str, Any], history: History, faults: list[Fault], out_dir: Path) -> tuple[Path, Path | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"chaos-{report['profile']}-seed{report['seed']}"
    json_path = out_dir / f"{stem}.json"
    full = {**report, "history": [op.as_dict() for op in history.operations]}
    json_path.write_text(json.dumps(full, indent=2, default=str) + "\n")
    return json_path, plot(report, history, faults, out_dir / f"{stem}.png")


def plot(report: dict[str, Any], history: History, faults: list[Fault], path: Path) -> Path | None:
    """The timeline: accepted / refused / unknown answers per second, each fault a shaded
    span (colour by kind), the end of the load and the moment the stack was drained."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return None
    quiet = report["quiet_period"]
    load_s = report["load_s"]
    end = int(load_s + (quiet.get("seconds") or 0)) + 5
    series = throughput(history, end)
    fig, ax = plt.subplots(figsize=(14, 5))
    xs = list(range(end + 1))
    ax.plot(xs, series["accepted"], color="black", linewidth=0.9, label="accepted/s")
    ax.plot(xs, series["refused"], color="grey", linewidth=0.7, label="refused/s")
    ax.plot(xs, series["unknown"], color="red", linewidth=0.7, label="unknown/s (never answered)")
    for fault in faults:
        ax.axvspan(
            fault.started_at,
            max(fault.ended_at or fault.started_at, fault.started_at + 0.5),
            color=COLOURS.get(fault.kind, "grey"),
            alpha=0.25,
            linewidth=0,
        )
    ax.axvline(load_s, color="black", linestyle="--", linewidth=1)
    if quiet.get("drained"):
        ax.axvline(load_s + quiet["seconds"], color="green", linestyle="--", linewidth=1)
    handles, _ = ax.get_legend_handles_labels()
    kinds = sorted({f.kind for f in faults})
    handles += [Patch(color=COLOURS.get(k, "grey"), alpha=0.35, label=k) for k in kinds]
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=2)
    drained = f"drained {quiet['seconds']:.0f}s after the load" if quiet.get("drained") else "NOT drained"
    ax.set_title(
        f"Sandbank chaos, {report['profile']} profile, seed {report['seed']}: "
        f"{report['operations']['total']} operations, "
        f"{report['faults']['total']} faults, {len(report['violations'])} violations; {drained}"
    )
    ax.set_xlabel("seconds since the load began (dashed: load ends; green: drained)")
    ax.set_ylabel("answers per second")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summary(report: dict[str, Any]) -> str:
    ops = report["operations"]
    quiet = report["quiet_period"]
    lines = [
        "",
        f"Sandbank chaos: {report['profile']} profile, seed {report['seed']}, {report['load_s']:.0f}s of load",
        f"  operations  {ops['total']}: accepted {ops['accepted']} (completed {ops['completed']}), "
        f"refused {ops['refused']}, unknown {ops['unknown']}",
    ]
    for kind, row in sorted(ops["by_kind"].items()):
        lines.append(f"    {kind:<20} " + ", ".join(f"{k} {v}" for k, v in sorted(row.items())))
    lines.append(f"  faults      {report['faults']['total']}")
    for kind, row in report["faults"]["by_kind"].items():
        failed = f", {row['failed_to_inject']} failed to inject" if row["failed_to_inject"] else ""
        lines.append(f"    {kind:<20} {row['count']} ({row['seconds']:.0f}s in all{failed})")
    if quiet.get("drained"):
        lines.append(f"  quiet       drained {quiet['seconds']:.1f}s after the load stopped")
    else:
        lines.append(f"  quiet       NOT drained after {quiet['seconds']:.0f}s: {quiet.get('last_state')}")
    lines.append(f"  violations  {len(report['violations'])}")
    by_rule = Counter(v["rule"] for v in report["violations"])
    for rule, n in by_rule.most_common():
        first = next(v for v in report["violations"] if v["rule"] == rule)
        lines.append(f"    {rule:<30} {n}  e.g. {first['detail']}")
    return "\n".join(lines)


def log_errors(logs_dir: Path, top: int = 3) -> list[str]:
    """Per process, its most frequent ERROR lines of the run (numbers aside: "restarting in
    0.1s" and "in 5.0s" are one), each with the last line of its exception: what a failed
    run prints, so that a CI log shows the crash loop or the lost connection without the
    data dir, which goes with the machine."""
    lines = []
    for path in sorted(logs_dir.glob("*.log")):
        counts: Counter[tuple[str, str]] = Counter()
        example: dict[tuple[str, str], tuple[str, str]] = {}
        for raw in path.read_text(errors="replace").splitlines():
            entry = log_record(raw)
            if entry is None or entry.get("level") not in ("error", "critical"):
                continue
            msg = str(entry.get("msg", ""))
            key = (str(entry.get("logger", "")), re.sub(r"\d+(\.\d+)?", "#", msg)[:200])
            counts[key] += 1
            trace = str(entry.get("exc") or "").strip().splitlines()
            example[key] = (msg, trace[-1] if trace else "")
        for key, n in counts.most_common(top):
            msg, exc = example[key]
            lines.append(f"    {path.stem:<11} {n:>4}x {key[0]}: {msg[:160]}")
            if exc:
                lines.append(f"    {'':<11}       {exc[:200]}")
    return lines
