"""`sandbank up|down|status|reset|clock|faults`: Sandbank for any language's test runner.

`up` starts `sandbank run` as a detached process group (so it is supervised exactly as
`make run` is, its output in <data-dir>/logs/run.log), waits until run.json says it is
running and the gateway answers /readyz, and prints where everything is. The other
commands find the stack through <data-dir>/run.json (or --gateway) and talk to it as its
operator, through the public API.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import processes
from shared.sandbox import DEMO_USERS, OPERATOR
from tools import stack

# The operator's controls (reset, clock, faults) import the testing client, and httpx
# with it, when they run: `up`, which a test suite waits on, has no use for them.
if TYPE_CHECKING:
    from sandbank_testing.bank import Sandbank

RUN_LOG = "run.log"
# What `up` allows beyond `--timeout` (which `sandbank run` spends waiting for the
# services) for the broker and the supervisor's own start.
UP_GRACE_S = 15.0


class LauncherError(RuntimeError):
    pass


def _running_info(data_dir: Path) -> dict[str, Any] | None:
    """run.json of the stack that holds the data dir's run lock; None when none does."""
    if not data_dir.exists():
        return None
    lock = stack._lock(data_dir)
    if lock is not None:
        lock.close()
        return None
    return stack.read_run_info(data_dir)


def _ready(url: str) -> bool:
    try:
        return stack.readyz(url)[0] == 200
    except OSError:
        return False


def start_detached(data_dir: Path, port: int, timeout_s: float) -> tuple[dict[str, Any], float]:
    """Start `sandbank run` in the background and wait for it; its run.json and how long
    it took to be ready."""
    running = _running_info(data_dir)
    if running is not None:
        raise LauncherError(
            f"Sandbank is already up in {data_dir} (pid {running.get('pid', '?')}, gateway "
            f"{running.get('gateway_url', '?')}): `sandbank down --data-dir {data_dir}` stops it"
        )
    log_path = data_dir / "logs" / RUN_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tools.cli", "run", "--data-dir", str(data_dir), "--port", str(port)]
    argv += ["--timeout", f"{timeout_s:g}"]
    began = time.monotonic()
    with open(log_path, "ab") as log:
        offset = log.tell()
        # Its own session: no terminal signal of ours reaches it, and it outlives us.
        supervisor = subprocess.Popen(
            argv,
            cwd=stack.PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = began + timeout_s + UP_GRACE_S
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            raise LauncherError(
                f"Sandbank did not start (exit code {supervisor.returncode}); last lines of {log_path}:\n"
                + stack.tail(log_path, offset=offset)
            )
        info = stack.read_run_info(data_dir)
        if info.get("pid") == supervisor.pid and info.get("state") == "running" and _ready(info["gateway_url"]):
            return info, time.monotonic() - began
        time.sleep(stack.READY_POLL_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(supervisor.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        supervisor.wait(stack.STOP_GRACE_S + 5)
    raise LauncherError(
        f"Sandbank was not ready within {timeout_s + UP_GRACE_S:.0f}s and was stopped; last lines of {log_path}:\n"
        + stack.tail(log_path, offset=offset)
    )


def describe(info: dict[str, Any], ready_s: float | None = None, operator_token: str | None = None) -> dict[str, Any]:
    """What a test suite needs to know of a running stack, as `up --json` prints it."""
    ports: dict[str, int] = info.get("ports", {})
    gateway = info["gateway_url"]
    return {
        "gateway_url": gateway,
        "docs_url": f"{gateway}/docs",
        "services": {name: f"http://{stack.HOST}:{port}" for name, port in ports.items() if name != "gateway"},
        "bootstrap_servers": info.get("bootstrap_servers"),
        "data_dir": info.get("data_dir"),
        "logs_dir": str(Path(info.get("data_dir", ".")) / "logs"),
        "pid": info.get("pid"),
        "ready_s": None if ready_s is None else round(ready_s, 2),
        "demo_logins": [
            {"phone": u.phone, "password": u.password, "name": u.name, "roles": list(u.roles)} for u in DEMO_USERS
        ],
        "operator": {"phone": OPERATOR.phone, "password": OPERATOR.password, "access_token": operator_token},
    }


def _banner(described: dict[str, Any]) -> str:
    rows = [("gateway", described["gateway_url"]), ("API docs", described["docs_url"])]
    rows.append(("broker", str(described["bootstrap_servers"])))
    rows += list(described["services"].items())
    rows += [("data", described["data_dir"]), ("logs", described["logs_dir"]), ("pid", str(described["pid"]))]
    width = max(len(label) for label, _ in rows)
    lines = ["Sandbank is up", ""] + [f"  {label:<{width}}  {value}" for label, value in rows]
    lines += ["", "  Demo logins (phone / password / roles):"]
    lines += [f"    {u['phone']}  {u['password']:<20}  {', '.join(u['roles'])}" for u in described["demo_logins"]]
    lines += ["", f"Ready in {described['ready_s']}s. `sandbank down --data-dir {described['data_dir']}` stops it."]
    return "\n".join(lines)


def up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    if not args.json:
        print(f"Starting Sandbank in the background (data in {data_dir}) ...", file=sys.stderr, flush=True)
    try:
        info, took = start_detached(data_dir, args.port, args.timeout)
    except LauncherError as e:
        print(e, file=sys.stderr)
        return 1
    try:
        token = _operator_token(info["gateway_url"])
    except (LauncherError, OSError, ValueError, KeyError) as e:
        print(f"Sandbank is up, but its operator could not log in: {e!r}", file=sys.stderr)
        token = None
    described = describe(info, took, token)
    print(json.dumps(described) if args.json else _banner(described), flush=True)
    return 0


def _operator_token(gateway_url: str) -> str:
    """The operator's access token, from a login as the `sandbank-cli` device (the one
    request `up` makes of the API, with the standard library's client as `stack.readyz`)."""
    body = {"phone": OPERATOR.phone, "password": OPERATOR.password, "device_id": "sandbank-cli"}
    status, answer = stack.call("POST", f"{gateway_url}/v1/auth/login", body, timeout_s=10.0)
    if status != 200:
        raise LauncherError(f"POST /v1/auth/login answered {status}: {answer[:300].decode(errors='replace')}")
    return str(json.loads(answer)["access_token"])


def down(args: argparse.Namespace) -> int:
    return stack.stop(args)


def _process_states(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ports: dict[str, int] = info.get("ports", {})
    restarts: dict[str, int] = info.get("restarts", {})
    states: dict[str, dict[str, Any]] = {}
    for name, pid in info.get("pids", {}).items():
        alive = isinstance(pid, int) and processes.alive(pid)
        if name == "broker":
            address = info.get("bootstrap_servers") or ""
            host, _, port = address.rpartition(":")
            ready = bool(port.isdigit() and stack.port_open(host, int(port)))
        else:
            address = f"http://{stack.HOST}:{ports[name]}"
            ready = alive and _ready(address)
        state = "ready" if ready else "running" if alive else "down"
        states[name] = {"pid": pid, "state": state, "address": address, "restarts": restarts.get(name, 0)}
    return states


def status(args: argparse.Namespace) -> int:
    """Exit code 0 when every process is ready, 1 when some is not, 3 when nothing runs."""
    data_dir = Path(args.data_dir).resolve()
    info = _running_info(data_dir)
    if info is None:
        print(json.dumps({"running": False, "data_dir": str(data_dir)}) if args.json else "Sandbank is not running.")
        return 3
    processes = _process_states(info)
    healthy = info.get("state") == "running" and all(p["state"] == "ready" for p in processes.values())
    report = {
        "running": True,
        "state": info.get("state"),
        "ready": healthy,
        "pid": info.get("pid"),
        "gateway_url": info.get("gateway_url"),
        "bootstrap_servers": info.get("bootstrap_servers"),
        "data_dir": str(data_dir),
        "processes": processes,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"Sandbank is {info.get('state')} (pid {info.get('pid')}), gateway {info.get('gateway_url')}")
        for name, p in processes.items():
            print(f"  {name:<10}  {p['state']:<7}  pid {p['pid']}  {p['address']}  restarts {p['restarts']}")
    return 0 if healthy else 1


# -- the operator's controls --------------------------------------------------------------


def _bank(args: argparse.Namespace) -> Sandbank:
    """The stack named by --gateway, SANDBANK_URL, or the data dir's run.json."""
    from sandbank_testing.bank import Sandbank
    from sandbank_testing.basics import SandbankError

    url = args.gateway or os.environ.get("SANDBANK_URL")
    if not url:
        data_dir = Path(args.data_dir).resolve()
        info = _running_info(data_dir)
        if info is None or not info.get("gateway_url"):
            raise LauncherError(
                f"Sandbank is not running in {data_dir}: start it with `sandbank up`, or name one with --gateway"
            )
        url = info["gateway_url"]
    try:
        return Sandbank.attach(url)
    except SandbankError as e:
        raise LauncherError(str(e)) from None


def _control(args: argparse.Namespace) -> int:
    """Run one of reset / clock / faults, with its errors said plainly."""
    import httpx

    from sandbank_testing.basics import SandbankError

    try:
        bank = _bank(args)
        try:
            args.control(bank, args)
        finally:
            bank.close()
    except (LauncherError, SandbankError, ValueError) as e:
        print(e, file=sys.stderr)
        return 1
    except httpx.HTTPError as e:
        print(f"Sandbank did not answer: {e}", file=sys.stderr)
        return 1
    return 0


def reset(bank: Sandbank, args: argparse.Namespace) -> None:
    began = time.monotonic()
    services = bank.reset()
    _say(
        args, {"services": services, "took_s": round(time.monotonic() - began, 3)}, "Sandbank is back to its seed state"
    )


def clock(bank: Sandbank, args: argparse.Namespace) -> None:
    from sandbank_testing.basics import parse_duration

    if args.advance is not None:
        bank.clock.advance(parse_duration(args.advance))
    elif args.set is not None:
        bank.clock.set(args.set)
    now = bank.clock.read()
    text = f"sandbox time {now['now']} (bank day {now['bank_day']}), {now['offset_s']:.0f}s ahead of real time"
    _say(args, now, text)


def faults(bank: Sandbank, args: argparse.Namespace) -> None:
    from sandbank_testing.bank import SERVICES

    if args.clear:
        bank.clear_faults(args.service)
    elif args.kind is not None:
        if args.service is None:
            raise LauncherError("a fault needs --service (" + ", ".join(SERVICES) + ")")
        bank.set_fault(args.service, args.kind, args.seconds, delay_ms=args.delay_ms)
    elif args.service is not None:
        raise LauncherError("--service needs --kind to set a fault, or --clear to end one")
    items = bank.faults()
    lines = [
        f"  {f['service']:<10}  {f['mode']:<9}  {f['remaining_s']:>6.1f}s left  "
        f"dropped {f['dropped']}  duplicated {f['duplicated']}"
        for f in items
    ]
    _say(args, {"items": items}, "\n".join(lines))


def _say(args: argparse.Namespace, answer: dict[str, Any], text: str) -> None:
    print(json.dumps(answer) if args.json else text)


def add_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`up` on the `sandbank` command line."""
    start = sub.add_parser(
        "up",
        help="start Sandbank in the background; print where it is once it is ready",
        description=(__doc__ or "").split("\n\n")[1],
    )
    start.add_argument("--data-dir", default=".data", help="databases, logs, run.json (.data)")
    start.add_argument("--port", type=int, default=8000, help="gateway port, the services the next four; 0: free ports")
    start.add_argument("--json", action="store_true", help="print one JSON object instead of a banner")
    start.add_argument("--timeout", type=float, default=60, help="seconds to wait for readiness (60)")
    start.set_defaults(handler=up)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`up`, `down`, `status`, `reset`, `clock` and `faults` on the `sandbank` command line."""
    from sandbank_testing.bank import FAULT_KINDS, SERVICES

    add_up(sub)
    stop = sub.add_parser("down", help="stop the Sandbank `up` started, and wait until it has")
    stop.add_argument("--data-dir", default=".data")
    stop.set_defaults(handler=down)

    state = sub.add_parser("status", help="whether Sandbank runs; each process's state (exit 0 all ready, 3 none)")
    state.add_argument("--data-dir", default=".data")
    state.add_argument("--json", action="store_true")
    state.set_defaults(handler=status)

    def control(name: str, help: str, run: Any) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help)
        command.add_argument("--data-dir", default=".data", help="find the stack through its run.json (.data)")
        command.add_argument("--gateway", default=None, help="the gateway's URL instead (or SANDBANK_URL)")
        command.add_argument("--json", action="store_true", help="print the answer as JSON")
        command.set_defaults(handler=_control, control=run)
        return command

    control("reset", "back to the seed state: every customer but the demo ones is forgotten", reset)

    clocks = control("clock", "print the sandbox clock, or move it forward", clock)
    move = clocks.add_mutually_exclusive_group()
    move.add_argument("--advance", metavar="DURATION", help="forward by e.g. 1d2h, 90m, 45s")
    move.add_argument("--set", metavar="ISO", help="to this time, e.g. 2026-12-01T09:30:00+08:00 (not before now)")

    fault = control("faults", "list, set or clear faults on the services' outgoing messages", faults)
    fault.add_argument("--service", choices=SERVICES)
    fault.add_argument("--kind", choices=FAULT_KINDS, help="what to do to the service's outgoing messages")
    fault.add_argument("--seconds", type=float, default=30, help="how long the fault lasts (30)")
    fault.add_argument("--delay-ms", type=int, default=500, help="for --kind delay (500)")
    fault.add_argument("--clear", action="store_true", help="end the fault on --service, or on every process")
