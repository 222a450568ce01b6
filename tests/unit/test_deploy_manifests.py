"""The rendered Kubernetes manifests and the compose file hold the operational promises: probes,
resources, non-root pods, autoscaling, disruption budgets, resolvable config, durable Kafka."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(
    p.parent for p in (ROOT / "deploy" / "k8s" / "overlays").glob("*/kustomization.yaml")
)
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
PORTS = {"gateway": 8000, "tracer": 8001, "reporter": 8002, "console": 8003}

Manifest = dict[str, Any]


def render(directory: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: it ships with the machine image (/usr/bin/kubectl)")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def example() -> list[Manifest]:
    return render(ROOT / "deploy" / "k8s" / "overlays" / "example")


def of_kind(manifests: list[Manifest], *kinds: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in kinds]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    "overlay", [*OVERLAYS, ROOT / "deploy" / "k8s" / "base"], ids=lambda p: p.name
)
def test_kustomization_renders(overlay: Path) -> None:
    assert render(overlay)


def test_one_workload_per_service(example: list[Manifest]) -> None:
    assert {m["metadata"]["name"] for m in of_kind(example, *WORKLOAD_KINDS)} == {
        f"scantrace-{name}" for name in PORTS
    } | {"scantrace-tracer-worker"}
    assert named(example, "StatefulSet", "scantrace-gateway")
    assert named(example, "Job", "scantrace-topics")


def test_every_container_has_probes_resources_and_runs_unprivileged(
    example: list[Manifest],
) -> None:
    for workload in of_kind(example, *WORKLOAD_KINDS, "Job"):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), where
            assert {"cpu", "memory"} <= resources["limits"].keys(), where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            if workload["kind"] == "Job":
                continue
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            ports = {p["containerPort"] for p in container["ports"]}
            assert ports == {PORTS[container["name"]]}, where


def test_gateway_autoscales_and_keeps_its_spool(example: list[Manifest]) -> None:
    hpa = named(example, "HorizontalPodAutoscaler", "scantrace-gateway")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "scantrace-gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    gateway = named(example, "StatefulSet", "scantrace-gateway")
    assert gateway["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "spool"
    mounts = gateway["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "spool", "mountPath": "/var/lib/scantrace"} in mounts
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SCANTRACE_GATEWAY_WORKERS"]["valueFrom"]["resourceFieldRef"]["resource"] == (
        "limits.cpu"
    )


def test_the_tracer_has_exactly_one_stream_worker(example: list[Manifest]) -> None:
    """scans.v1 is keyed by venue: two workers could re-derive one person at the same time."""

    def worker_env(name: str) -> str:
        container = named(example, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        return str(env["SCANTRACE_TRACER_WORKER"])

    worker = named(example, "Deployment", "scantrace-tracer-worker")
    assert worker["spec"]["replicas"] == 1
    assert worker["spec"]["strategy"]["type"] == "Recreate"
    assert worker_env("scantrace-tracer-worker") == "true"
    assert worker_env("scantrace-tracer") == "false"


def test_every_workload_has_a_disruption_budget(example: list[Manifest]) -> None:
    budgets = of_kind(example, "PodDisruptionBudget")
    for workload in of_kind(example, *WORKLOAD_KINDS):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(matching) == 1, workload["metadata"]["name"]


def test_services_select_their_pods(example: list[Manifest]) -> None:
    pods = [w["spec"]["template"]["metadata"]["labels"] for w in of_kind(example, *WORKLOAD_KINDS)]
    for service in of_kind(example, "Service"):
        assert any(selects(service["spec"]["selector"], labels) for labels in pods), service


def test_config_and_secret_references_resolve(example: list[Manifest]) -> None:
    config_maps = {m["metadata"]["name"] for m in of_kind(example, "ConfigMap")}
    secrets = {m["metadata"]["name"] for m in of_kind(example, "Secret")}
    for workload in of_kind(example, *WORKLOAD_KINDS, "Job"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for var in container.get("env", []):
                ref = var.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["name"] in secrets, var
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["name"] in config_maps, var


def test_only_the_reporter_sees_the_qr_signing_key(example: list[Manifest]) -> None:
    for workload in of_kind(example, *WORKLOAD_KINDS, "Job"):
        text = yaml.safe_dump(workload)
        holds_key = "SCANTRACE_QR_SIGNING_KEY" in text
        assert holds_key == (workload["metadata"]["name"] == "scantrace-reporter")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_kafka_cluster_is_durable(compose: dict[str, Any]) -> None:
    brokers = {n: s for n, s in compose["services"].items() if n.startswith("kafka-")}
    assert len(brokers) == 3
    for service in brokers.values():
        env = service["environment"]
        assert service["image"].startswith("apache/kafka:4.")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    assert "--replication-factor" in compose["services"]["topics"]["command"]


def test_compose_redis_uses_aof_everysec(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"


def test_compose_healthchecks_and_ordered_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name != "topics":  # a one-shot job: the others wait for it to complete instead
            assert "healthcheck" in service, name
        for dependency, condition in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if dependency == "topics" else "service_healthy"
            )
            assert condition == {"condition": expected}, f"{name} -> {dependency}"
    for name in PORTS:
        assert "topics" in services[name]["depends_on"], name


def test_topic_jobs_run_a_real_cli_command(
    example: list[Manifest], compose: dict[str, Any]
) -> None:
    from scantrace_cli.main import build_parser

    job = named(example, "Job", "scantrace-topics")
    commands = [
        compose["services"]["topics"]["command"],
        job["spec"]["template"]["spec"]["containers"][0]["args"],
    ]
    for argv in commands:
        args = build_parser().parse_args([str(a) for a in argv])
        assert args.replication_factor == 3, argv


@pytest.mark.parametrize(
    ("module", "cls"),
    [
        ("scantrace_gateway.settings", "GatewaySettings"),
        ("scantrace_tracer.settings", "TracerSettings"),
        ("scantrace_reporter.settings", "ReporterSettings"),
        ("scantrace_console.settings", "ConsoleSettings"),
    ],
)
def test_images_set_settings_the_services_read(module: str, cls: str) -> None:
    """The images and manifests set SCANTRACE_<SERVICE>_HOST/PORT: the settings must have them."""
    import importlib

    try:
        settings_module = importlib.import_module(module)
    except ModuleNotFoundError:
        pytest.fail(f"{module} does not exist yet")
    fields = getattr(settings_module, cls).model_fields
    service = module.split("_")[1].split(".")[0]
    assert {f"{service}_host", f"{service}_port"} <= fields.keys()
