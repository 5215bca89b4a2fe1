"""`sandbank chaos` (`make chaos`): start a Sandbank, load it from N clients while the
nemesis injects faults, go quiet, wait until the stack has drained, check it against the
model and write the report. Exit code 1 on any violation."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from tools.chaos import checker, report
from tools.chaos.checker import Line
from tools.chaos.model import ORDER_KINDS, History, Operation
from tools.chaos.nemesis import Nemesis, Schedule
from tools.chaos.options import PROFILES, add_arguments
from tools.chaos.target import Drain, Operator, Target, drain_state, free_port_block, observe
from tools.chaos.workload import Client, cheapest_symbol, operator_headers

PROGRESS_EVERY_S = 5.0
UNSUBMITTED = (None, "reported", "documents_submitted")


def say(message: str) -> None:
    print(message, flush=True)


class Run:
    def __init__(self, args: argparse.Namespace, target: Target) -> None:
        profile = PROFILES[args.profile]
        self.args = args
        self.target = target
        self.duration_s = args.duration if args.duration is not None else profile.duration_s
        self.clients_n = args.clients or profile.clients
        self.drain_timeout_s = args.drain_timeout if args.drain_timeout is not None else profile.drain_timeout_s
        self.schedule = Schedule(
            kinds=args.faults,
            gap_s=args.interval or profile.gap_s,
            duration_s=args.fault_duration or profile.fault_s,
            seed=args.seed,
        )
        self.history = History()
        self.t0 = time.monotonic()
        self.operator = Operator(target)
        self.nemesis = Nemesis(target, self.operator, self.schedule, self.elapsed)
        self.clients: list[Client] = []
        self.stack_exits: list[dict[str, Any]] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    async def setup(self) -> None:
        ops = await operator_headers(self.target.gateway_url)
        self.clients = [
            Client(i, self.target.gateway_url, self.history, self.args.seed, self.elapsed)
            for i in range(self.clients_n)
        ]
        await asyncio.gather(*(c.register(ops) for c in self.clients))
        symbol = await cheapest_symbol(self.clients[0])
        for c in self.clients:
            c.peers = [o.checking for o in self.clients if o is not c]
            c.symbol = symbol
        say(f"  {len(self.clients)} clients registered and funded; buying {symbol or 'nothing'}")

    async def progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            ops = self.history.operations
            answered = [op for op in ops if op.answered_at is not None]
            answers = {a: sum(1 for op in answered if op.answer == a) for a in ("accepted", "refused", "unknown")}
            current = self.nemesis.current
            now = f"{current.kind} {current.target}".strip() if current else "none"
            if not self.target.alive() and not (current and current.kind == "restart"):
                await self.revive()
            say(
                f"  [{self.elapsed():6.0f}s] ops {len(ops)} (accepted {answers['accepted']}, refused "
                f"{answers['refused']}, unknown {answers['unknown']}, in flight {len(ops) - len(answered)})  "
                f"faults {len(self.nemesis.faults)}  now: {now}"
            )

    async def revive(self) -> None:
        """`sandbank run` stopped by itself (its supervisor gave up on a process): a
        violation of its own; started again so the run goes on."""
        code = self.target.popen.returncode if self.target.popen else None
        exit_ = {"at_s": round(self.elapsed(), 1), "code": code, "log": self.target.log_tail()}
        self.stack_exits.append(exit_)
        say(f"  [{self.elapsed():6.0f}s] sandbank run stopped by itself (exit code {code}): starting it again")
        await asyncio.to_thread(self.target.start)

    async def load(self) -> float:
        """Clients and the nemesis for the run's duration; the seconds it took."""
        self.t0 = time.monotonic()
        say(f"load: {len(self.clients)} clients for {self.duration_s:.0f}s, faults {','.join(self.schedule.kinds)}")
        drivers = [asyncio.create_task(c.drive((0.05, 0.4))) for c in self.clients]
        nemesis = asyncio.create_task(self.nemesis.run())
        reporter = asyncio.create_task(self.progress())
        await asyncio.sleep(self.duration_s)
        say("  load over: stopping the nemesis (the fault in progress ends first) ...")
        self.nemesis.stop()
        await nemesis
        for c in self.clients:
            c.running = False
        await asyncio.gather(*drivers)
        reporter.cancel()
        if not self.target.alive():
            await self.revive()
        return self.elapsed()

    async def quiet(self, load_s: float) -> dict[str, Any]:
        """Wait until nothing is in flight: no payment unfinished, no hold, no saga open,
        every outbox empty, every consumer caught up. The client's loose ends (answers
        never received, claims never submitted) are tied first, as a phone would."""
        for c in self.clients:
            c.running = True
        await asyncio.gather(
            *(
                c.resolve(op)
                for c in self.clients
                for op in self.history.operations
                if op.client == c.index and op.answer == "unknown"
            )
        )
        # Limit orders left resting (their cancel never got through): cancelled, as the
        # phone would, so each ends.
        await asyncio.gather(
            *(
                c.cancel(op)
                for c in self.clients
                for op in self.history.operations
                if op.client == c.index
                and op.kind in ORDER_KINDS
                and op.id
                and (op.body or {}).get("type") == "limit"
                and not op.terminal
            )
        )
        # Only the claims whose submission was never answered: reading back every
        # operation here would count its time as the stack's.
        await self.read_back(finish=True, only=lambda op: op.kind == "claim" and op.status in UNSUBMITTED)
        state: Drain | None = None
        deadline = time.monotonic() + self.drain_timeout_s
        last_said = 0.0
        while time.monotonic() < deadline:
            state = await drain_state(self.operator)
            if state.drained:
                break
            if time.monotonic() - last_said > PROGRESS_EVERY_S:
                say(f"  [{self.elapsed():6.0f}s] draining: {state.describe()}")
                last_said = time.monotonic()
            await asyncio.sleep(1)
        seconds = self.elapsed() - load_s
        drained = bool(state and state.drained)
        say(f"  {'drained' if drained else 'NOT drained'} {seconds:.1f}s after the load stopped")
        return {
            "drained": drained,
            "seconds": round(seconds, 1),
            "timeout_s": self.drain_timeout_s,
            "last_state": state.describe() if state else None,
        }

    async def read_back(self, *, finish: bool = False, only: Callable[[Operation], bool] = lambda _op: True) -> None:
        sem = asyncio.Semaphore(16)

        async def one(c: Client, op: Any) -> None:
            async with sem:
                await c.read_back(op, finish=finish)

        by_index = {c.index: c for c in self.clients}
        await asyncio.gather(*(one(by_index[op.client], op) for op in self.history.operations if op.id and only(op)))

    async def check(self) -> tuple[list[checker.Violation], dict[str, int]]:
        await self.read_back()
        balances: dict[str, tuple[int, int]] = {}
        lines: list[Line] = []
        for c in self.clients:
            seen, statement = await c.accounts()
            balances.update(seen)
            lines += statement
        observed = await observe(self.operator, balances, lines)
        observed.stack_exits = self.stack_exits
        errors: dict[str, int] = {}
        for c in self.clients:
            for k, v in c.errors.items():
                errors[k] = errors.get(k, 0) + v
        return checker.check(self.history, observed), errors

    async def close(self) -> None:
        for c in self.clients:
            await c.close()
        await self.operator.close()


async def _run(args: argparse.Namespace, target: Target) -> int:
    run = Run(args, target)
    try:
        await run.setup()
        load_s = await run.load()
        quiet = await run.quiet(load_s)
        violations, errors = await run.check()
        built = report.build(
            profile=args.profile,
            seed=args.seed,
            args={
                "duration_s": run.duration_s,
                "clients": run.clients_n,
                "faults": list(run.schedule.kinds),
                "interval_s": list(run.schedule.gap_s),
                "fault_duration_s": list(run.schedule.duration_s),
                "drain_timeout_s": run.drain_timeout_s,
                "data_dir": str(target.data_dir),
            },
            history=run.history,
            faults=run.nemesis.faults,
            violations=violations,
            load_s=load_s,
            quiet=quiet,
            client_errors=errors,
        )
        json_path, png_path = report.write(built, run.history, run.nemesis.faults, args.out)
        say(report.summary(built))
        say(
            f"\n  report   {json_path}"
            + (f"\n  timeline {png_path}" if png_path else "\n  (no timeline: matplotlib is not installed)")
        )
        minimum = args.min_faults if args.min_faults is not None else PROFILES[args.profile].min_faults
        weak = shortfalls(built, minimum)
        for reason in weak:
            say(f"  too weak to pass: {reason}")
        if built["ok"] and not weak:
            return 0
        errors_seen = report.log_errors(target.data_dir / "logs")
        if errors_seen:
            say("\n  the most frequent errors in the stack's logs:")
            say("\n".join(errors_seen))
        return 1
    finally:
        await run.close()


# What an operation ends as when it did what was asked.
SUCCEEDED = {"completed", "filled", "active", "expired", "lapsed", "closed", "paid"}


def shortfalls(built: dict[str, Any], min_faults: int) -> list[str]:
    """Why a run with no violation still proved too little: too few faults, a kind of
    operation that never once succeeded (the workload did not exercise it), no drain."""
    found = []
    if built["faults"]["total"] < min_faults:
        found.append(f"{built['faults']['total']} faults injected, fewer than {min_faults}")
    for kind, outcomes in sorted(built["operations"]["by_kind"].items()):
        if not any(outcome.rpartition(":")[2] in SUCCEEDED for outcome in outcomes):
            found.append(f"no {kind} succeeded ({', '.join(sorted(outcomes))})")
    if not built["quiet_period"]["drained"]:
        found.append("the stack never drained")
    return found


def main(args: argparse.Namespace) -> int:
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="sandbank-chaos-")) if temporary else args.data_dir
    target = Target(data_dir, free_port_block())
    say(f"Sandbank chaos: starting `sandbank run` on {target.gateway_url} (data in {data_dir}) ...")
    code = 2

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Stopped from outside (a CI timeout, `kill`), it still stops the stack it started:
    # `sandbank run` runs in a session of its own and would outlive it.
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        target.start()
        code = asyncio.run(_run(args, target))
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    finally:
        target.stop()
        if temporary and code == 0 and not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif code != 0:
            say(f"  the stack's data and logs are kept in {data_dir}")
    return code


def standalone(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    return main(parser.parse_args(argv))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(standalone())
