"""A typed Python client of the gateway, generated from the OpenAPI it serves.

`sandbank client [--gateway URL | --spec FILE] [--out build/clients/python]` fetches the
running gateway's `/openapi.json` (or reads a saved one) and generates the package
`sandbank_client` with `openapi-python-client`: a module per operation, named by its
operation id, under its tag (`sandbank_client.api.payments.create_transfer`), with
`sync`, `sync_detailed`, `asyncio` and `asyncio_detailed`, and a model per schema.
`pip install -e build/clients/python` makes it importable. The client is generated from
the live document rather than committed, so it never drifts from what the gateway does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

PACKAGE = "sandbank_client"
CONFIG = f"project_name_override: sandbank-client\npackage_name_override: {PACKAGE}\n"


class ClientError(RuntimeError):
    pass


def fetch_spec(gateway_url: str) -> dict:
    url = gateway_url.rstrip("/") + "/openapi.json"
    try:
        answer = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        raise ClientError(f"no gateway answered at {url} ({exc}); start one with `make run`") from exc
    if answer.status_code != 200:
        raise ClientError(f"{url} answered {answer.status_code}: a gateway in production mode serves no document")
    return dict(answer.json())


def generate(spec: dict, out: Path) -> Path:
    """Generate the client from `spec` into `out` (replaced); returns the package's folder."""
    generator = shutil.which("openapi-python-client", path=_tool_path())
    if generator is None:
        raise ClientError("openapi-python-client is not installed: `make install` brings it")
    with tempfile.TemporaryDirectory() as work:
        spec_path, config = Path(work) / "openapi.json", Path(work) / "config.yaml"
        spec_path.write_text(json.dumps(spec))
        config.write_text(CONFIG)
        done = subprocess.run(
            [
                generator,
                "generate",
                "--path",
                str(spec_path),
                "--output-path",
                str(out),
                "--config",
                str(config),
                "--overwrite",
            ],
            capture_output=True,
            text=True,
            # Its post-hooks format the code with ruff, which sits beside it in the venv.
            env={**os.environ, "PATH": _tool_path()},
            check=False,
        )
    if done.returncode != 0 or not (out / PACKAGE).is_dir():
        raise ClientError(f"openapi-python-client failed:\n{done.stdout}\n{done.stderr}")
    return out / PACKAGE


def _tool_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def main(args: argparse.Namespace) -> int:
    try:
        spec = json.loads(Path(args.spec).read_text()) if args.spec else fetch_spec(args.gateway)
        package = generate(spec, Path(args.out))
    except (ClientError, OSError, ValueError) as exc:
        print(f"sandbank client: {exc}", file=sys.stderr)
        return 1
    operations = sum(len(ops) for ops in spec.get("paths", {}).values())
    print(f"generated {PACKAGE} ({operations} operations) in {package}; `pip install -e {args.out}` to use it")
    return 0
