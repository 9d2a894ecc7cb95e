"""Deployment manifests: every Kubernetes document validates against the API schemas; compose lints.

No `kubectl kustomize`, Helm or Docker engine is obtainable here, so overlays are not rendered: base
documents are validated whole and overlay patches are checked as JSON 6902 operations on the base.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[1] / "deploy"
K8S = ROOT / "k8s"
K8S_VERSION = "1.33"

# Tiny schema for KubeRay's RayJob (the CRD's own schema is not bundled with kubernetes-validate).
_RAYJOB_REQUIRED = ("entrypoint", "rayClusterSpec")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _base() -> dict[tuple[str, str], dict[str, Any]]:
    kust = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for name in kust["resources"]:
        for doc in _documents(K8S / "base" / name):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
    return container


def test_every_base_document_validates_against_kubernetes_schemas() -> None:
    docs = _base()
    assert len(docs) >= 15
    for (kind, name), doc in docs.items():
        if kind == "RayJob":
            for key in _RAYJOB_REQUIRED:
                assert key in doc["spec"], f"RayJob {name}: spec.{key} missing"
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_kustomization_lists_existing_files() -> None:
    kusts = sorted(K8S.rglob("kustomization.yaml"))
    assert {p.parent.name for p in kusts} >= {"base", "tp2", "single-gpu"}
    for kust_path in kusts:
        kust = yaml.safe_load(kust_path.read_text(encoding="utf-8"))
        for ref in kust.get("resources", []):
            assert (kust_path.parent / ref).exists(), f"{kust_path}: {ref} not found"
        for patch in kust.get("patches", []):
            assert (kust_path.parent / patch["path"]).is_file(), f"{kust_path}: {patch['path']} not found"


def test_qdrant_is_a_three_node_cluster_with_volumes_key_and_tls() -> None:
    sts = _base()[("StatefulSet", "qdrant")]
    assert sts["spec"]["replicas"] == 3
    assert {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]} >= {"storage"}
    qdrant = _container(sts)
    assert qdrant["image"].startswith("qdrant/qdrant:v1.")
    assert "latest" not in qdrant["image"]
    env = {e["name"]: e for e in qdrant["env"]}
    assert env["QDRANT__SERVICE__API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "govrag-keys"
    assert env["QDRANT__CLUSTER__ENABLED"]["value"] == "true"
    assert env["QDRANT__SERVICE__ENABLE_TLS"]["value"] == "true"
    assert "--bootstrap" in qdrant["args"][0]
    headless = _base()[("Service", "qdrant-headless")]
    assert headless["spec"]["clusterIP"] == "None"
    assert 6335 in {p["port"] for p in headless["spec"]["ports"]}


def test_api_probes_hit_endpoints_the_app_exposes() -> None:
    routes = (Path(__file__).resolve().parents[1] / "rag" / "api" / "routes.py").read_text(encoding="utf-8")
    api = _container(_base()[("Deployment", "govrag-api")])
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        path = api[probe]["httpGet"]["path"]
        assert f'@router.get("{path}"' in routes, f"{probe} path {path} is not a route"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    docs = _base()
    assert ("HorizontalPodAutoscaler", "govrag-api") in docs
    assert ("PodDisruptionBudget", "govrag-api") in docs
    assert ("Ingress", "govrag-api") in docs


def test_env_names_are_real_settings() -> None:
    documented = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(
        encoding="utf-8"
    )
    cm = _base()[("ConfigMap", "govrag-env")]
    names = [n for n in cm["data"] if n.startswith("GOVRAG_")]
    names += [e["name"] for e in _container(_base()[("Deployment", "govrag-api")])["env"]]
    for name in names:
        assert f"`{name}`" in documented, f"{name} is not a documented setting"


def test_vllm_serves_sea_lion_tp2_offline_with_key() -> None:
    vllm = _container(_base()[("Deployment", "vllm")])
    args = vllm["args"]
    assert args[args.index("--model") + 1] == "aisingapore/Qwen-SEA-LION-v4-32B-IT"
    assert args[args.index("--tensor-parallel-size") + 1] == "2"
    assert args[args.index("--reasoning-parser") + 1] == "qwen3"
    assert args[args.index("--api-key") + 1] == "$(VLLM_API_KEY)"
    env = {e["name"]: e for e in vllm["env"]}
    assert env["HF_HUB_OFFLINE"]["value"] == "1"
    assert vllm["readinessProbe"]["httpGet"]["path"] == "/health"
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert "latest" not in vllm["image"]


def test_single_gpu_overlay_patches_resolve_on_the_base() -> None:
    vllm = _base()[("Deployment", "vllm")]
    ops = yaml.safe_load((K8S / "overlays" / "single-gpu" / "vllm-8bit.yaml").read_text(encoding="utf-8"))
    changed = {}
    for op in ops:
        assert op["op"] == "replace"
        node: Any = vllm
        *parents, leaf = [p.replace("~1", "/") for p in op["path"].strip("/").split("/")]
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(leaf) if isinstance(node, list) else leaf
        assert key in node if isinstance(node, dict) else key < len(node), f"{op['path']} not in base"
        changed[op["path"]] = (node[key], op["value"])
    assert changed["/spec/template/spec/containers/0/args/3"] == ("2", "1")
    assert changed["/spec/template/spec/containers/0/args/1"][0] == "aisingapore/Qwen-SEA-LION-v4-32B-IT"


def test_ingestion_runs_as_rayjob_and_cronjob() -> None:
    docs = _base()
    assert "--executor ray" in docs[("RayJob", "govrag-ingest")]["spec"]["entrypoint"]
    cron = docs[("CronJob", "govrag-sync")]
    assert "ray" in cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]


def test_compose_is_pinned_keyed_and_persistent() -> None:
    compose = yaml.safe_load((ROOT / "scale-out" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    declared_volumes = set(compose["volumes"])
    declared_secrets = set(compose["secrets"])
    for name, svc in services.items():
        image = svc.get("image", "")
        assert ":" in image, f"{name}: image {image!r} has no tag"
        assert not image.endswith(":latest"), f"{name}: image {image!r} floats on latest"
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            assert source.startswith(".") or source in declared_volumes, f"{name}: volume {source} undeclared"
        assert set(svc.get("secrets", [])) <= declared_secrets, f"{name}: undeclared secret"
    for node in ("qdrant-0", "qdrant-1", "qdrant-2"):
        assert services[node]["volumes"], f"{node} has no volume"
        assert "qdrant_api_key" in services[node]["secrets"]
    dockerfile = (ROOT / "scale-out" / "Dockerfile").read_text(encoding="utf-8")
    build_args = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("ARG ")}
    assert build_args <= set(services["api"]["build"]["args"]), "Dockerfile ARG not passed by compose"
    api_env = services["api"]["environment"]
    assert api_env["GOVRAG_INDEX__URL"] != "http://qdrant-0:6333", "API replicas pinned to one Qdrant node"
    assert "8080:80" in services["lb"]["ports"]
    vllm = services["vllm"]
    assert "--reasoning-parser qwen3" in vllm["command"][0]
    assert "--api-key" in vllm["command"][0]
    assert vllm["environment"]["HF_HUB_OFFLINE"] == "1"
    assert vllm["volumes"]
