"""The developer's command line of Sandbank (`make install` puts `sandbank` in .venv/bin).

sandbank run  [--data-dir .data] [--port 8000]   the whole Sandbank in the foreground
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
"""

from __future__ import annotations

import argparse
import sys

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
    return 0


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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="sandbank", description=(__doc__ or "").split("\n")[0])
    sub = root.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="start everything in the foreground; Ctrl-C stops it",
        description=stack.RUN_DESCRIPTION,
    )
    run.add_argument("--data-dir", default=".data", help="databases, logs, run.json (.data)")
    run.add_argument("--port", type=int, default=8000, help="gateway port; the services take the next four (8000)")
    run.add_argument("--timeout", type=float, default=30, help="seconds to wait for readiness")
    run.add_argument("--bootstrap-servers", default=None, help="use this Kafka instead of starting the embedded broker")
    run.add_argument("--services", default=None, help="comma-separated subset to start, e.g. accounts,gateway")
    run.set_defaults(handler=stack.run)

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
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
