"""The Kubernetes manifests (deploy/k8s), checked offline as CI checks docker-compose.yml:
each overlay is rendered here (the subset of kustomize it uses) and every object validated
against the Kubernetes 1.30 schemas that kubernetes-validate ships; then the manifests are
held against compose and the code: the same processes, image, commands, ports and
variables, probes on the real routes, secrets only by reference, autoscalers on real
Deployments, and topics and databases as the processes expect them."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from gateway.settings import Settings as GatewaySettings
from services.accounts.settings import Settings as AccountsSettings
from services.insurance.settings import Settings as InsuranceSettings
from services.payments.settings import Settings as PaymentsSettings
from services.securities.settings import Settings as SecuritiesSettings
from shared.events import topics
from shared.keys import PROCESSES
from shared.web import health_router

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
KUBERNETES = "1.30"
OVERLAYS = ("dev", "prod")
SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "accounts": AccountsSettings,
    "payments": PaymentsSettings,
    "securities": SecuritiesSettings,
    "insurance": InsuranceSettings,
}
# What compose sets that the cluster deliberately does not, and why.
NOT_IN_CLUSTER = {
    # Compose ships Jaeger; a cluster has its own collector, named in sandbank-config.
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}
# Variables the processes read besides their settings: the OpenTelemetry SDK's own.
SDK_VARIABLES = {"OTEL_SERVICE_NAME"}
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


# --- a renderer for the subset of kustomize deploy/k8s uses --------------------------------


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(folder: Path) -> list[dict[str, Any]]:
    """`kustomize build folder` for what deploy/k8s uses: resources (files and folders),
    components, patches (strategic merge from a file, or JSON 6902 inline, with an optional
    target), images and namespace. Anything else in a kustomization fails here, so the
    manifests cannot grow past what is checked."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "components", "patches", "images", "namespace"}
    assert set(spec) <= known, f"{folder}: kustomize fields this test does not render: {set(spec) - known}"
    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources", []) + spec.get("components", []):
        path = folder / entry
        objects += render(path) if path.is_dir() else load_all(path)
    for patch in spec.get("patches", []):
        apply_patch(objects, folder, patch)
    for image in spec.get("images", []):
        for container in containers(objects):
            if container["image"].split(":")[0] == image["name"]:
                name = image.get("newName", image["name"])
                tag = image.get("newTag", container["image"].partition(":")[2])
                container["image"] = f"{name}:{tag}" if tag else name
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = spec["namespace"]
    return objects


def apply_patch(objects: list[dict[str, Any]], folder: Path, patch: dict[str, Any]) -> None:
    target = patch.get("target", {})
    if "path" in patch:
        for change in load_all(folder / patch["path"]):
            wanted = {"kind": change["kind"], "name": change["metadata"]["name"], **target}
            found = [o for o in objects if matches(o, wanted)]
            assert found, f"{folder}: the patch of {wanted} matches no object"
            for obj in found:
                obj.update(merge(obj, change))
        return
    operations = yaml.safe_load(patch["patch"])
    found = [o for o in objects if matches(o, target)]
    assert found, f"{folder}: the patch for {target} matches no object"
    for obj in found:
        for operation in operations:
            assert operation["op"] in ("add", "replace"), operation
            *parents, last = [p for p in operation["path"].split("/") if p]
            node: Any = obj
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            assert operation["op"] == "add" or last in node, f"{operation['path']} is not in {obj['kind']}"
            node[last] = copy.deepcopy(operation["value"])


def matches(obj: dict[str, Any], target: dict[str, Any]) -> bool:
    return all(target.get(field, value) == value for field, value in _identity_fields(obj).items())


def _identity_fields(obj: dict[str, Any]) -> dict[str, str]:
    return {"kind": obj["kind"], "name": obj["metadata"]["name"]}


def merge(base: Any, change: Any) -> Any:
    """A strategic merge: maps merge key by key, lists of named items merge by name (as
    containers, env, ports and volumes do), other lists and values are replaced."""
    if isinstance(base, dict) and isinstance(change, dict):
        merged = dict(base)
        for key, value in change.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(change, list) and all(_named(i) for i in base + change):
        by_name = {item["name"]: item for item in base}
        for item in change:
            by_name[item["name"]] = merge(by_name[item["name"]], item) if item["name"] in by_name else item
        return list(by_name.values())
    return copy.deepcopy(change)


def _named(item: Any) -> bool:
    return isinstance(item, dict) and "name" in item


def containers(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for obj in objects:
        if obj["kind"] == "Deployment":
            yield from obj["spec"]["template"]["spec"]["containers"]


def kinds(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def specs(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o["spec"] for o in objects if o["kind"] == kind]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / request.param)


@pytest.fixture(scope="module")
def dependencies() -> list[dict[str, Any]]:
    return render(K8S / "dependencies")


@pytest.fixture(scope="module")
def compose() -> dict[str, dict[str, Any]]:
    """The compose services that run a Sandbank process (its command is `python -m ...`)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: s for name, s in services.items() if s.get("command", [""])[0] == "python"}


def config(objects: list[dict[str, Any]]) -> dict[str, str]:
    return cast(dict[str, str], kinds(objects, "ConfigMap")["sandbank-config"]["data"])


def environment(objects: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, Any]:
    """A Deployment's variables: those of the ConfigMaps it reads, then its own env (a
    value, or the source it comes from)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    found: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        found.update(kinds(objects, "ConfigMap")[source["configMapRef"]["name"]]["data"])
    for variable in container.get("env", []):
        found[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return found


def setting_variables(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads, its sections' included."""
    prefix = settings.model_config.get("env_prefix") or ""
    names = set()
    for name, field in settings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            names |= setting_variables(kind)
        else:
            names.add(str(field.validation_alias or f"{prefix}{name}").upper())
    return names


# --- every object is valid Kubernetes ---------------------------------------------------------


def test_every_object_validates_against_the_kubernetes_schema(overlay: list[dict[str, Any]]) -> None:
    """Strict: a misspelt field fails as a wrong type does. A custom resource fails too
    (no schema for it), which keeps the operators' resources out of the overlays."""
    assert overlay
    for obj in overlay:
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            pytest.fail(error.message)


def test_the_monitoring_component_adds_only_a_pod_monitor_in_the_namespace() -> None:
    objects = render(K8S / "components/monitoring")
    assert [(o["kind"], o["metadata"]["namespace"]) for o in objects] == [("PodMonitor", "sandbank")]
    endpoint = objects[0]["spec"]["podMetricsEndpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert endpoint["authorization"]["credentials"]["name"] == "sandbank-scrape-token"


def test_everything_lives_in_the_sandbank_namespace(overlay: list[dict[str, Any]]) -> None:
    assert set(kinds(overlay, "Namespace")) == {"sandbank"}
    assert {o["metadata"].get("namespace") for o in overlay if o["kind"] != "Namespace"} == {"sandbank"}


# --- the same processes as compose --------------------------------------------------------------


def test_every_compose_process_has_a_deployment_service_and_disruption_budget(
    overlay: list[dict[str, Any]], compose: dict[str, dict[str, Any]]
) -> None:
    assert set(compose) == set(PROCESSES)
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(kinds(overlay, kind)) == set(compose), kind


def test_image_and_command_agree_with_compose(
    overlay: list[dict[str, Any]], compose: dict[str, dict[str, Any]]
) -> None:
    for name, deployment in kinds(overlay, "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == compose[name]["command"], name
        assert container["image"] == compose[name]["image"], name


def test_every_variable_compose_sets_is_set_alike(
    overlay: list[dict[str, Any]], compose: dict[str, dict[str, Any]]
) -> None:
    """Same names; the same values where both talk of the same thing (ports, service
    addresses, the keys' folder); the broker and the database are the cluster's own."""
    own = {"KAFKA_BOOTSTRAP_SERVERS", "DB_URL", "SANDBANK_ENVIRONMENT"}
    for name, deployment in kinds(overlay, "Deployment").items():
        expected = compose[name]["environment"]
        found = environment(overlay, deployment)
        assert set(expected) - NOT_IN_CLUSTER <= set(found), f"{name} lacks {set(expected) - set(found)}"
        for variable in set(expected) - NOT_IN_CLUSTER - own:
            assert found[variable] == str(expected[variable]), f"{name}: {variable}"


def test_every_variable_set_is_one_the_process_reads(overlay: list[dict[str, Any]]) -> None:
    for name, deployment in kinds(overlay, "Deployment").items():
        unknown = set(environment(overlay, deployment)) - setting_variables(SETTINGS[name]) - SDK_VARIABLES
        assert not unknown, f"{name} is given variables it never reads: {sorted(unknown)}"


def test_the_service_addresses_reach_the_services(overlay: list[dict[str, Any]]) -> None:
    services = kinds(overlay, "Service")
    for process in PROCESSES:
        if process == "gateway":
            continue
        url = config(overlay)[f"SERVICE_URL_{process.upper()}"]
        host, port = url.removeprefix("http://").split(":")
        assert host in services
        assert [p["port"] for p in services[host]["spec"]["ports"]] == [int(port)]


def test_each_service_selects_its_own_pods_on_the_port_the_process_listens_on(
    overlay: list[dict[str, Any]],
) -> None:
    deployments = kinds(overlay, "Deployment")
    for name, service in kinds(overlay, "Service").items():
        template = deployments[name]["spec"]["template"]
        assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
        listens = int(environment(overlay, deployments[name])["HTTP_PORT"])
        ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert ports == {"http": listens}
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    for budget in kinds(overlay, "PodDisruptionBudget").values():
        labels = deployments[budget["metadata"]["name"]]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_only_the_gateway_is_reachable_from_outside(overlay: list[dict[str, Any]]) -> None:
    (ingress,) = kinds(overlay, "Ingress").values()
    backends = [p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in kinds(overlay, "Service").values())


# --- probes, security, secrets -----------------------------------------------------------------


def test_probes_ask_the_real_health_routes_on_the_process_port(overlay: list[dict[str, Any]]) -> None:
    routes = {getattr(route, "path", None) for route in health_router(cast(Any, None)).routes}
    for name, deployment in kinds(overlay, "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
        assert probes["readinessProbe"]["path"] == "/readyz", name
        assert probes["livenessProbe"]["path"] == "/healthz", name
        assert probes["startupProbe"]["path"] == "/healthz", name
        for probe in probes.values():
            assert probe["path"] in routes
            assert probe["port"] in {p["name"] for p in container["ports"]}, name


def test_processes_run_unprivileged_on_a_read_only_root(overlay: list[dict[str, Any]]) -> None:
    for name, deployment in kinds(overlay, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        # The Dockerfile's user, so the kubelet can check it is not root.
        assert f"--uid {pod['securityContext']['runAsUser']}" in (ROOT / "Dockerfile").read_text()
        context = pod["containers"][0]["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"]["drop"] == ["ALL"], name
        resources = pod["containers"][0]["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name


def test_each_process_mounts_its_own_private_key_and_every_public_key(overlay: list[dict[str, Any]]) -> None:
    for name, deployment in kinds(overlay, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        folder = config(overlay)["AUTH_KEYS_DIR"]
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == folder)
        secret = volumes[mount["name"]]["secret"]
        assert secret["secretName"] == "sandbank-keys"
        assert {item["key"] for item in secret["items"]} == {f"{name}.key"} | {f"{p}.pub" for p in PROCESSES}
        assert mount["readOnly"] is True


def test_no_secret_is_written_in_the_manifests() -> None:
    """Secrets are referenced by name and made in the cluster (secrets.sh): no Secret
    object, no key, no password, no URL with credentials in any file under deploy/k8s."""
    for path in sorted(K8S.rglob("*.yaml")):
        text = path.read_text()
        assert "PRIVATE KEY" not in text, path
        assert not CREDENTIALS_IN_URL.search(text), path
        for obj in load_all(path):
            assert obj.get("kind") != "Secret", path
            assert "password" not in {k.lower() for k in _keys(obj)}, path


def test_database_urls_come_from_a_secret(overlay: list[dict[str, Any]]) -> None:
    for name, deployment in kinds(overlay, "Deployment").items():
        source = environment(overlay, deployment)["DB_URL"]
        assert source == {"secretKeyRef": {"name": "sandbank-db", "key": name}}


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_the_secrets_script_makes_every_secret_the_manifests_read(tmp_path: Path) -> None:
    """secrets.sh run against a kubectl that only records what it is asked: it makes each
    Secret the Deployments, the PodMonitor and the PostgreSQL roles name, with the keys
    they read, and loadable key pairs."""
    log = tmp_path / "kubectl.log"
    fake = tmp_path / "bin/kubectl"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$*" in *" get "*) exit 1;; esac\n'  # no Secret there yet
        'for a in "$@"; do case "$a" in --from-file=*) f=${a#--from-file=}; f=${f#*=}; '
        f'[ -d "$f" ] && ls "$f" | sed "s/^/  file /" >> {log};; esac; done\n'
        "exit 0\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    env["SANDBANK"] = str(Path(sys.executable).parent / "sandbank")
    subprocess.run(["sh", str(K8S / "secrets.sh"), "sandbank"], env=env, check=True, capture_output=True)
    calls = log.read_text()
    made = dict(re.findall(r"create secret generic (\S+)(.*)", calls))
    assert set(re.findall(r"  file (\S+)", calls)) == {f"{p}.{e}" for p in PROCESSES for e in ("key", "pub")}
    assert "--from-file=token=" in made["sandbank-scrape-token"]
    urls = dict(re.findall(r"--from-literal=(\w+)=(\S+)", made["sandbank-db"]))
    assert set(urls) == set(PROCESSES)
    for process, url in urls.items():
        assert re.fullmatch(rf"postgresql\+asyncpg://{process}:[\w-]{{32}}@sandbank-pg-rw:5432/{process}", url)
    cluster = kinds(render(K8S / "dependencies"), "Cluster")["sandbank-pg"]
    roles = {r["passwordSecret"]["name"] for r in cluster["spec"]["managed"]["roles"]}
    read = {"sandbank-keys", "sandbank-db", "sandbank-scrape-token"} | roles
    assert read <= set(made), f"not made: {read - set(made)}"


# --- replicas and autoscaling --------------------------------------------------------------------


def test_every_autoscaler_scales_a_deployment_of_the_overlay(overlay: list[dict[str, Any]]) -> None:
    deployments = kinds(overlay, "Deployment")
    for name, hpa in kinds(overlay, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["apiVersion"]) == ("Deployment", "apps/v1")
        assert target["name"] in deployments, name
        replicas = deployments[target["name"]]["spec"]["replicas"]
        assert hpa["spec"]["minReplicas"] <= replicas <= hpa["spec"]["maxReplicas"], name
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


def test_accounts_scales_no_further_than_its_command_partitions(overlay: list[dict[str, Any]]) -> None:
    """accounts' work is its commands topic: a replica past the partition count idles."""
    for hpa in kinds(overlay, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == "accounts":
            assert hpa["spec"]["maxReplicas"] <= int(config(overlay)["KAFKA_PARTITIONS"])


def test_securities_runs_one_process_that_owns_the_market(overlay: list[dict[str, Any]]) -> None:
    deployment = kinds(overlay, "Deployment")["securities"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in kinds(overlay, "HorizontalPodAutoscaler").values()}
    assert "securities" not in scaled


def test_dev_runs_one_of_each_and_prod_autoscales_the_rest() -> None:
    dev, prod = render(K8S / "overlays/dev"), render(K8S / "overlays/prod")
    assert {d["spec"]["replicas"] for d in kinds(dev, "Deployment").values()} == {1}
    assert not kinds(dev, "HorizontalPodAutoscaler")
    assert set(kinds(prod, "HorizontalPodAutoscaler")) == set(PROCESSES) - {"securities"}


# --- Kafka and PostgreSQL, as the processes expect them -------------------------------------------


def test_kafka_topics_are_every_topic_and_its_dead_letters_with_the_configured_partitions(
    dependencies: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    made = {t["spec"]["topicName"]: t["spec"] for t in kinds(dependencies, "KafkaTopic").values()}
    assert set(made) == set(topics.ALL) | {topics.dlq(t) for t in topics.ALL}
    partitions = int(config(overlay)["KAFKA_PARTITIONS"])
    for name, spec in made.items():
        assert (spec["partitions"], spec["replicas"]) == (partitions, 3), name
    (name,) = kinds(dependencies, "Kafka")
    owners = {t["metadata"]["labels"]["strimzi.io/cluster"] for t in kinds(dependencies, "KafkaTopic").values()}
    assert owners == {name}
    assert config(overlay)["KAFKA_BOOTSTRAP_SERVERS"] == f"{name}-kafka-bootstrap:9092"


def test_kafka_runs_in_kraft_mode_with_three_replicas_of_everything(dependencies: list[dict[str, Any]]) -> None:
    (kafka,) = kinds(dependencies, "Kafka").values()
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    pools = kinds(dependencies, "KafkaNodePool").values()
    assert {"controller", "broker"} <= {role for p in pools for role in p["spec"]["roles"]}
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) >= 3
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    # The session timeout the processes ask for must be one the brokers accept (6 s minimum
    # unless lowered).
    minimum = kafka["spec"]["kafka"]["config"].get("group.min.session.timeout.ms", 6000)
    assert int(config(render(K8S / "overlays/dev"))["KAFKA_SESSION_TIMEOUT_MS"]) >= minimum


def test_postgres_has_a_database_and_a_role_per_process(dependencies: list[dict[str, Any]]) -> None:
    (cluster,) = kinds(dependencies, "Cluster").values()
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    databases = {(d["name"], d["owner"], d["cluster"]["name"]) for d in specs(dependencies, "Database")}
    assert roles == set(PROCESSES)
    assert databases == {(p, p, cluster["metadata"]["name"]) for p in PROCESSES}
    assert f"DB_HOST:-{cluster['metadata']['name']}-rw" in (K8S / "secrets.sh").read_text()


def test_the_dependencies_are_operator_resources_only(dependencies: list[dict[str, Any]]) -> None:
    """They need the operators' CRDs, which is why no overlay includes them."""
    groups = {o["apiVersion"].split("/")[0] for o in dependencies}
    assert groups == {"kafka.strimzi.io", "postgresql.cnpg.io"}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(dependencies[0], KUBERNETES, strict=True)


# --- the renderer itself -------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["overlays/dev", "overlays/prod", "dependencies"])
def test_the_renderer_agrees_with_kubectl_kustomize(folder: str) -> None:
    """Where kubectl is installed, its kustomize renders the same objects as `render`."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run(["kubectl", "kustomize", str(K8S / folder)], capture_output=True, text=True, check=True)
    theirs = sorted((yaml.safe_load_all(built.stdout)), key=_identity)
    ours = sorted(render(K8S / folder), key=_identity)
    assert [_identity(o) for o in ours] == [_identity(o) for o in theirs]
    assert ours == theirs


def _identity(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def test_a_broken_manifest_fails_validation() -> None:
    """The validator is not a formality: a Deployment whose probe port is a list fails."""
    deployment = copy.deepcopy(kinds(render(K8S / "overlays/dev"), "Deployment")["accounts"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = ["http"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
