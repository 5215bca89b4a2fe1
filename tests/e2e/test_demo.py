"""`make demo` against the test stack: the whole story succeeds, step by step, and leaves
the ledger balanced; and the compose dashboards' queries ask for metrics the running
processes really export, read with the scraper's own metrics-only token."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.keys import PROCESSES
from tools.cli import main
from tools.stack import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STEPS = 6


def test_the_demo_story_succeeds_step_by_step_and_leaves_the_ledger_balanced(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--gateway", stack.gateway_url, "--no-start", "--no-color", "--timeout", "60"])
    told = capsys.readouterr().out

    assert code == 0, told
    assert f"{STEPS} of {STEPS} steps succeeded" in told, told
    assert told.count("\n  ok   ") == STEPS, told
    assert "\033[" not in told, "colour when not asked for, on a pipe"
    # Every money step links to its sequence diagram in the console, with a real id.
    links = re.findall(re.escape(stack.gateway_url) + r"/console#/flow/([0-9a-f-]{36})", told)
    assert len(set(links)) == 5, told
    assert re.search(r"accounts dropped [1-9]\d* message\(s\)", told), told
    assert re.search(r"checking: [\d,.]+ → [\d,.]+ \(-32\.00\)", told), told

    with httpx.Client(base_url=stack.gateway_url, timeout=10) as gateway:
        login = {"phone": "+8613900000000", "password": "sandbank-operator"}
        token = gateway.post("/v1/auth/login", json=login).json()["access_token"]
        report = gateway.get("/v1/admin/ledger/check", headers={"authorization": f"Bearer {token}"}).json()
        faults = gateway.get("/v1/sandbox/faults", headers={"authorization": f"Bearer {token}"}).json()["items"]
    assert report["ok"], report["violations"]
    assert all(f["mode"] == "none" for f in faults), "the demo left a fault behind"


def test_the_demo_says_it_cannot_run_when_no_stack_answers_and_it_may_not_start_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.cli", "demo", "--gateway", "http://127.0.0.1:9", "--no-start"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "no Sandbank answers at http://127.0.0.1:9" in done.stderr
    assert "make run" in done.stderr


def test_the_scrape_token_reads_every_processs_metrics_and_nothing_else(stack: Stack, tmp_path: Path) -> None:
    token_file = tmp_path / "prometheus.token"
    assert main(["keys", "--dir", str(stack.keys_dir), "--scrape-token", str(token_file)]) == 0
    scraper = {"authorization": f"Bearer {token_file.read_text().strip()}"}
    exported: set[str] = set()
    for process in PROCESSES:
        url = stack.gateway_url if process == "gateway" else stack.url(process)
        metrics = httpx.get(f"{url}/metrics", headers=scraper, timeout=10)
        assert metrics.status_code == 200, (process, metrics.text)
        for family in text_string_to_metric_families(metrics.text):
            exported |= samples(family.name, family.type)
        assert httpx.get(f"{url}/internal/faults", headers=scraper, timeout=10).status_code == 403, process
    assert httpx.get(f"{stack.gateway_url}/v1/admin/ledger/check", headers=scraper, timeout=10).status_code in (
        401,
        403,
    )

    dashboards = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    assert dashboards
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                asked = set(re.findall(r"\bsandbank_[a-z0-9_]+\b", target["expr"]))
                assert asked <= exported, (path.name, panel["title"], asked - exported)


def samples(name: str, kind: str) -> set[str]:
    """The sample names a parsed family stands for, as a query names them."""
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    if kind == "counter":
        return {f"{name}_total"}
    return {name}
