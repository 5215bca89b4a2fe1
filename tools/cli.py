"""The developer's command line of Sandbank (`make install` puts `sandbank` in .venv/bin).

sandbank run  [--data-dir .data] [--port 8000]   the whole Sandbank in the foreground
               [--replicas N --db-url URL]     N each of accounts and payments, on PostgreSQL
sandbank stop [--data-dir .data]                 stop it from another terminal
sandbank up [--port 0] [--json]                  the whole Sandbank in the background, for a test suite
sandbank down | status | reset                   stop it, say how it is, back to the seed state
sandbank clock [--advance 1d2h | --set ISO]      read or move the sandbox clock
sandbank faults [--service S --kind K | --clear] list, set or clear faults on outgoing messages
sandbank asyncapi [--write | --check]            the AsyncAPI document and events catalogue
sandbank broker [--port 9092]                    one embedded Kafka-wire broker
sandbank migration SERVICE "MESSAGE" [--empty]   a process's next schema revision
sandbank client [--gateway URL] [--out DIR]      the typed Python client, from the live OpenAPI
sandbank listen --forward-to URL [--events ...]  relay webhooks to a local endpoint
sandbank chaos [--profile short|long] [--faults kill,stop,...]   the chaos suite (make chaos)
sandbank demo [--gateway URL] [--keep]           the demo story for a live audience (make demo)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shared.sandbox import OPERATOR
from tools import launcher, stack


def _asyncapi(args: argparse.Namespace) -> int:
    # Imported here, like every command's own module: `sandbank up` and `run` start fast.
    from tools import asyncapi

    if args.write:
        print("wrote " + " and ".join(str(p) for p in asyncapi.write()))
        return 0
    if args.check:
        stale = asyncapi.stale()
        for path in stale:
            print(f"{path} is stale: run `make asyncapi` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    sys.stdout.write(asyncapi.render_asyncapi())
    return 0


def _broker(args: argparse.Namespace) -> int:
    from tools import broker

    broker.run_foreground(args.port)
    return 0


def _keys(args: argparse.Namespace) -> int:
    from shared import keys

    made = keys.generate(args.dir)
    print(f"made key pairs for {', '.join(made)} in {args.dir}" if made else f"every key pair is already in {args.dir}")
    if args.scrape_token:
        path = Path(args.scrape_token)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(scrape_token(args.dir, args.scrape_days))
        # Readable by the scraper's own user (Prometheus runs as nobody in compose).
        path.chmod(0o644)
        print(f"wrote a metrics-only token for every process, valid {args.scrape_days} days, to {path}")
    return 0


def scrape_token(keys_dir: str, days: int) -> str:
    """A bearer token for a Prometheus scraper: signed by the gateway's key for every
    process, with the `metrics` role alone, which opens /metrics and no other route. It
    is made from the stack's own keys, so no secret ships with compose; it ends after
    `days`, or when the keys are made anew."""
    from shared import keys
    from shared.auth import ROLE_METRICS, TokenIssuer
    from shared.settings import AuthSettings

    issuer = TokenIssuer(keys.Keyring.load(keys_dir, keys.GATEWAY), AuthSettings())
    return issuer.issue("scraper:prometheus", [ROLE_METRICS], audience=list(keys.PROCESSES), ttl_s=days * 86400)


def _client(args: argparse.Namespace) -> int:
    # Imported here, like migration: only this command needs it.
    from tools import client

    return client.main(args)


def _migration(args: argparse.Namespace) -> int:
    # Imported here: it loads every process's models, which the other commands never need.
    from tools import migration

    return migration.main(args)


def _listen(args: argparse.Namespace) -> int:
    # Imported here: its HTTP server and client are for this command only.
    from tools import listen

    return listen.run(args)


LISTEN_DESCRIPTION = """Log in to a running Sandbank (the demo operator, who hears every customer's
events, unless --phone and --password name a customer), register a temporary webhook
endpoint on a local listener, print its signing secret, and POST every delivery to
--forward-to as received (body and Sandbank-* headers untouched), one line per event.
Ctrl-C removes the endpoint. docs/webhooks.md has the rest."""


def _chaos(args: argparse.Namespace) -> int:
    # Imported here: the chaos suite's clients and plots are for this command only.
    from tools.chaos import cli as chaos

    return chaos.main(args)


DEMO_DESCRIPTION = """Run Sandbank's demo story: a QR payment to a merchant, a share bought, a
payment made while accounts drops its outgoing messages (the saga re-sends its step and
completes), an insurance policy bought, a claim an adjuster approves and the payout, then
the ledger check. Each step waits on its real outcome and prints its status, amounts,
balances before and after, and the console link to its sequence diagram.

It uses the stack at --gateway (make run's, or SANDBANK_URL); when none answers there, it
starts one of its own on free ports (`sandbank up`) and stops it at the end unless --keep.
It moves the seeded customer's money and drops a service's messages for a few seconds:
run it on a sandbox of your own, not on a stack other suites share. Exit code 0 when every
step succeeded."""


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo's client and story are for this command only.
    from tools import demo

    return demo.main(args)


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; for `command`, when it is `run` or `up`, that command's alone.

    `sandbank up` and the `sandbank run` it starts are what a test suite waits on, and
    the other commands' options import what they need to be described (the testing
    client and httpx, for the controls' choices): a fifth of a second of each start."""
    root = argparse.ArgumentParser(prog="sandbank", description=(__doc__ or "").split("\n")[0])
    sub = root.add_subparsers(dest="command", required=True)
    if command == "up":
        launcher.add_up(sub)
        return root
    _add_run(sub)
    if command == "run":
        return root
    _add_others(sub)
    return root


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="start everything in the foreground; Ctrl-C stops it",
        description=stack.RUN_DESCRIPTION,
    )
    run.add_argument("--data-dir", default=".data", help="databases, logs, run.json (.data)")
    run.add_argument("--port", type=int, default=8000, help="gateway port; the services take the next four (8000)")
    run.add_argument(
        "--timeout",
        type=float,
        default=30,
        help="seconds to wait for readiness (30); on a machine busier than its cores, up to three times that",
    )
    run.add_argument("--bootstrap-servers", default=None, help="use this Kafka instead of starting the embedded broker")
    run.add_argument("--services", default=None, help="comma-separated subset to start, e.g. accounts,gateway")
    run.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("REPLICAS") or 1),
        help="processes of each of accounts and payments, sharing their partitions (PostgreSQL only; 1)",
    )
    run.add_argument(
        "--db-url",
        default=os.environ.get("DB_URL"),
        help="one PostgreSQL database for every process, a schema each (DB_URL; default SQLite files)",
    )
    run.set_defaults(handler=stack.run)


def _add_others(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stop = sub.add_parser("stop", help="stop the Sandbank started by `run`")
    stop.add_argument("--data-dir", default=".data")
    stop.set_defaults(handler=stack.stop)

    launcher.add_commands(sub)

    doc = sub.add_parser("asyncapi", help="print docs/asyncapi.json as the event schemas give it")
    mode = doc.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write docs/asyncapi.json and docs/events.md")
    mode.add_argument("--check", action="store_true", help="fail when either file is stale")
    doc.set_defaults(handler=_asyncapi)

    kafka = sub.add_parser("broker", help="run one embedded Kafka-wire broker (Tansu) in the foreground")
    kafka.add_argument("--port", type=int, default=9092)
    kafka.set_defaults(handler=_broker)

    keyring = sub.add_parser("keys", help="make the stack's key pairs (one per process) where they are missing")
    keyring.add_argument("--dir", default=".data/keys", help="where: the processes read AUTH_KEYS_DIR (.data/keys)")
    keyring.add_argument("--scrape-token", default=None, help="also write a metrics-only token for Prometheus here")
    keyring.add_argument("--scrape-days", type=int, default=90, help="how long that token lasts, in days (90)")
    keyring.set_defaults(handler=_keys)

    generated = sub.add_parser("client", help="generate the typed Python client from the gateway's OpenAPI")
    generated.add_argument("--gateway", default="http://127.0.0.1:8000", help="a running gateway (make run's)")
    generated.add_argument("--spec", default=None, help="an OpenAPI document saved in a file, instead")
    generated.add_argument("--out", default="build/clients/python", help="where (replaced): build/clients/python")
    generated.set_defaults(handler=_client)

    revision = sub.add_parser("migration", help="write a process's next schema revision from its models")
    revision.add_argument("service", choices=("gateway", *stack.BACKEND_SERVICES))
    revision.add_argument("message", help="what the revision changes, in a few words")
    revision.add_argument("--empty", action="store_true", help="a blank revision to fill by hand (a data move)")
    revision.set_defaults(handler=_migration)

    relay = sub.add_parser(
        "listen", help="relay a running Sandbank's webhooks to a local endpoint", description=LISTEN_DESCRIPTION
    )
    relay.add_argument("--forward-to", required=True, help="the local URL each delivery is POSTed to")
    relay.add_argument("--events", default="*", help="comma-separated event types (docs/webhooks.md), or * (*)")
    relay.add_argument("--gateway", default="http://127.0.0.1:8000", help="the gateway (http://127.0.0.1:8000)")
    relay.add_argument("--phone", default=OPERATOR.phone, help="log in as this customer (the demo operator)")
    relay.add_argument("--password", default=OPERATOR.password, help="their password")
    relay.add_argument("--port", type=int, default=0, help="the local listener's port (a free one)")
    relay.set_defaults(handler=_listen)

    from tools.chaos.options import add_arguments as chaos_arguments

    chaos = sub.add_parser(
        "chaos",
        help="load a Sandbank of its own while injecting faults, then check it against a model",
        description="Start `sandbank run` on a temporary data dir, drive mixed traffic from N clients while "
        "a nemesis injects one fault at a time, wait until the stack drains, check money, statements, "
        "sagas, holds, outboxes and consumers against the model, and write a JSON report and a PNG "
        "timeline. Exit code 1 on any violation.",
    )
    chaos_arguments(chaos)
    chaos.set_defaults(handler=_chaos)

    story = sub.add_parser(
        "demo", help="the demo story for a live audience, step by step", description=DEMO_DESCRIPTION
    )
    story.add_argument(
        "--gateway",
        default=os.environ.get("SANDBANK_URL", "http://127.0.0.1:8000"),
        help="the running stack's gateway (SANDBANK_URL, else http://127.0.0.1:8000: make run's)",
    )
    story.add_argument("--timeout", type=float, default=30, help="seconds each step may take to end (30)")
    story.add_argument("--no-start", action="store_true", help="fail when no stack answers instead of starting one")
    story.add_argument("--keep", action="store_true", help="leave a stack the demo started running, to browse it")
    colour = story.add_mutually_exclusive_group()
    colour.add_argument("--color", dest="colour", action="store_true", default=None, help="colour even when piped")
    colour.add_argument("--no-color", dest="colour", action="store_false", help="no colour, even on a terminal")
    story.set_defaults(handler=_demo)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv[0] if argv else None).parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
