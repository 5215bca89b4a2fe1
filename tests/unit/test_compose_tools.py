"""The standard tools the compose deployment brings (Jaeger, Prometheus, Grafana), checked
statically as CI checks docker-compose.yml: every process exports traces and is scraped,
the scraper's credential is made at start rather than shipped, and every dashboard asks
for metrics Sandbank documents. (tests/e2e/test_demo.py checks the same queries against
a running stack's /metrics, with the scraper's token.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.auth import ROLE_METRICS, TokenIssuer
from shared.keys import PROCESSES, Keyring, generate
from shared.settings import AuthSettings
from tools.cli import scrape_token

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
METRIC = re.compile(r"\bsandbank_[a-z0-9_]+\b")


def load_yaml(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(load_yaml("docker-compose.yml"))


@pytest.fixture(scope="module")
def processes(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Sandbank processes among the compose services: the ones with an HTTP_PORT."""
    return {
        name: service
        for name, service in compose["services"].items()
        if "HTTP_PORT" in (service.get("environment") or {})
    }


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def documented_samples() -> set[str]:
    """The sample names of every metric in the README's metrics table: a histogram's
    `_bucket`, `_count` and `_sum`, a counter's `_total`, a gauge's own name."""
    names = set()
    for name, kind in re.findall(r"^\| `(sandbank_[a-z0-9_]+)` \| (histogram|counter|gauge) \|", readme(), re.M):
        names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"} if kind == "histogram" else {name}
    return names


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_every_process_is_one_the_code_knows(processes: dict[str, dict[str, Any]]) -> None:
    assert set(processes) == set(PROCESSES)


def test_every_process_exports_its_traces_to_jaeger_over_otlp(
    compose: dict[str, Any], processes: dict[str, dict[str, Any]]
) -> None:
    assert "jaeger" in compose["services"]
    for name, service in processes.items():
        env = service["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", name
        assert env["OTEL_SERVICE_NAME"] == name
        assert "jaeger" in service["depends_on"], name


def test_prometheus_scrapes_every_process_at_its_own_port_and_nothing_else(
    compose: dict[str, Any], processes: dict[str, dict[str, Any]]
) -> None:
    config = load_yaml("deploy/prometheus/prometheus.yml")
    targets = [t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]]
    scraped = dict(t.split(":") for t in targets)
    assert set(scraped) <= set(compose["services"]), "a target that is no compose service"
    assert scraped == {name: service["environment"]["HTTP_PORT"] for name, service in processes.items()}
    mounted = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounted


def test_the_scrapers_credential_is_made_at_start_not_shipped(compose: dict[str, Any]) -> None:
    config = load_yaml("deploy/prometheus/prometheus.yml")
    for job in config["scrape_configs"]:
        auth = job["authorization"]
        assert "credentials" not in auth, "a token written into the config would be a shipped secret"
        token_file = auth["credentials_file"]
        volume = next(v for v in compose["services"]["prometheus"]["volumes"] if token_file.startswith(v.split(":")[1]))
        assert volume.split(":")[0] in compose["volumes"], "the token lives in a named volume, not in the repository"
        assert f"--scrape-token {token_file}" in compose["services"]["keys"]["command"][-1]
    grafana = compose["services"]["grafana"]["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana
    assert grafana["GF_SECURITY_ADMIN_PASSWORD__FILE"].startswith("/observability/")
    assert "secrets.token_urlsafe" in compose["services"]["keys"]["command"][-1]


def test_the_scrape_token_is_good_for_every_process_with_the_metrics_role_alone(tmp_path: Path) -> None:
    generate(tmp_path)
    token = scrape_token(str(tmp_path), days=90)
    for process in PROCESSES:
        principal = TokenIssuer(Keyring.load(tmp_path, process), AuthSettings()).verify(token)
        assert principal.roles == frozenset({ROLE_METRICS}), process


def test_grafana_provisions_the_datasources_its_dashboards_name(compose: dict[str, Any]) -> None:
    provisioned = load_yaml("deploy/grafana/provisioning/datasources/sandbank.yml")["datasources"]
    uids = {d["uid"] for d in provisioned}
    hosts = {re.sub(r"^http://([^:/]+).*", r"\1", d["url"]) for d in provisioned}
    assert hosts <= set(compose["services"])
    provider = load_yaml("deploy/grafana/provisioning/dashboards/sandbank.yml")["providers"][0]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in compose["services"]["grafana"]["volumes"]
    assert DASHBOARDS
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_query_asks_for_metrics_the_processes_export(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    asked = {m for expr in expressions(dashboard) for m in METRIC.findall(expr)}
    assert asked, "a dashboard with no Sandbank metric"
    assert asked <= documented_samples(), f"not in the README's metrics table: {asked - documented_samples()}"


def test_the_dashboards_cover_what_an_architect_shows() -> None:
    asked = {
        m for path in DASHBOARDS for expr in expressions(json.loads(path.read_text())) for m in METRIC.findall(expr)
    }
    for metric in (
        "sandbank_http_request_duration_seconds_bucket",  # payments latency
        "sandbank_saga_duration_seconds_count",  # saga outcomes, payments throughput
        "sandbank_consumer_lag",
        "sandbank_outbox_backlog",
    ):
        assert metric in asked
