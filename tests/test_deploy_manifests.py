"""Deployment files are checked without a cluster: no Docker engine, kubectl, kustomize or Helm exists on the
build machines. Every Kubernetes document under deploy/k8s is validated against the official schemas of
the Kubernetes release below (`kubernetes-validate`, strict: unknown fields fail), the overlays' JSON 6902
patches are applied here and the result validated again, KubeRay's RayJob (a CRD, not in those schemas)
is checked against a small schema of the fields we use plus the core schema of its pod templates, and the
compose file is linted structurally. Content checks pin what the deployment must keep doing."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install govrag[test]")

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
COMPOSE = ROOT / "deploy" / "scale-out" / "compose.yaml"
#: Oldest and newest releases the manifests must validate against (CronJob timeZone is GA since 1.27).
K8S_VERSIONS = ("1.30.0", "1.37.0")
#: API groups whose kinds are not in the Kubernetes schemas; each needs its own check below.
CRD_GROUPS = ("ray.io/",)

Doc = dict[str, Any]


def _documents(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _resource_files() -> list[Path]:
    """Every YAML file under deploy/k8s that holds Kubernetes objects (not kustomizations or patches)."""
    files = []
    for path in sorted(K8S.rglob("*.yaml")):
        docs = _documents(path)
        objects = docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs)
        if objects and docs[0]["kind"] != "Kustomization":
            files.append(path)
    return files


def _kustomization(folder: Path) -> Doc:
    doc = _documents(folder / "kustomization.yaml")[0]
    assert isinstance(doc, dict)
    return doc


def _base_objects() -> list[Doc]:
    """The base's objects, in the order kustomization.yaml lists its resources."""
    objects: list[Doc] = []
    for name in _kustomization(BASE)["resources"]:
        objects.extend(_documents(BASE / name))
    return objects


def _find(objects: list[Doc], kind: str, name: str) -> Doc:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _validate(doc: Doc) -> None:
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def _json_pointer_parts(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def _apply_json6902(doc: Doc, ops: list[Doc]) -> Doc:
    """Apply the `add` / `replace` / `remove` operations the overlays use (RFC 6902), as kustomize does."""
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _json_pointer_parts(op["path"])
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) and last != "-" else last
        if op["op"] == "replace":
            if isinstance(node, dict) and key not in node:
                raise AssertionError(f"replace of a missing path {op['path']}")
            node[key] = op["value"]  # a list index out of range raises IndexError
        elif op["op"] == "add":
            if isinstance(node, list):
                node.append(op["value"]) if key == "-" else node.insert(key, op["value"])
            else:
                node[key] = op["value"]
        elif op["op"] == "remove":
            del node[key]
        else:
            raise AssertionError(f"unsupported patch op {op['op']!r} in {op}")
    return out


def _render(overlay: Path) -> list[Doc]:
    """A small stand-in for `kustomize build`: the base's objects with the overlay's JSON 6902 patches."""
    kust = _kustomization(overlay)
    assert kust["resources"] == ["../../base"]
    objects = _base_objects()
    for patch in kust.get("patches", []):
        target = patch["target"]
        ops: list[Doc] = yaml.safe_load((overlay / patch["path"]).read_text(encoding="utf-8"))
        matches = [
            i
            for i, o in enumerate(objects)
            if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]
        ]
        assert len(matches) == 1, f"patch {patch['path']} matches {len(matches)} objects"
        objects[matches[0]] = _apply_json6902(objects[matches[0]], ops)
    return objects


def _pod_specs(obj: Doc) -> list[Doc]:
    """Pod specs inside a workload or a RayJob."""
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if obj["kind"] == "RayJob":
        cluster = spec["rayClusterSpec"]
        groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
        return [g["template"]["spec"] for g in groups]
    if "template" in spec:
        return [spec["template"]["spec"]]
    return []


def _containers(obj: Doc) -> list[Doc]:
    return [c for pod in _pod_specs(obj) for c in pod["containers"]]


def _args(container: Doc) -> list[str]:
    """Container args as separate tokens (`--flag=value` split in two)."""
    tokens: list[str] = []
    for arg in container.get("args", []):
        tokens.extend(str(arg).split("=", 1) if str(arg).startswith("--") else [str(arg)])
    return tokens


def _flag(tokens: list[str], flag: str) -> str:
    assert flag in tokens, f"{flag} missing from {tokens}"
    return tokens[tokens.index(flag) + 1]


# --- schema validation -------------------------------------------------------------------------------------


_RESOURCES = [(path, doc) for path in _resource_files() for doc in _documents(path)]
RESOURCE_DOCS = [
    pytest.param(doc, id=f"{path.relative_to(K8S)}:{doc['kind']}/{doc['metadata']['name']}")
    for path, doc in _RESOURCES
]


def test_manifests_are_found() -> None:
    """The parametrized validation below runs over every object (a glob that found nothing would pass)."""
    kinds = {doc["kind"] for _, doc in _RESOURCES}
    assert {"StatefulSet", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"} <= kinds
    assert {"CronJob", "RayJob", "Secret", "PersistentVolumeClaim", "Service", "ConfigMap"} <= kinds


@pytest.mark.parametrize("doc", RESOURCE_DOCS)
def test_manifest_validates_against_kubernetes_schema(doc: Doc) -> None:
    if doc["apiVersion"].startswith(CRD_GROUPS):
        pytest.skip("a CRD: checked by test_rayjob_matches_kuberay_fields_and_pod_schema")
    _validate(doc)


def test_validator_rejects_a_broken_manifest() -> None:
    """The schema check can fail: a misspelt probe field and a string replica count are caught."""
    deployment = copy.deepcopy(_find(_base_objects(), "Deployment", "govrag-api"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGets"] = probe.pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGets"):
        _validate(deployment)
    deployment = copy.deepcopy(_find(_base_objects(), "Deployment", "govrag-api"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError, match="two"):
        _validate(deployment)


@pytest.mark.parametrize("overlay", sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml")))
def test_overlay_renders_to_valid_objects(overlay: Path) -> None:
    objects = _render(overlay)
    for obj in objects:
        if not obj["apiVersion"].startswith(CRD_GROUPS):
            _validate(obj)
    assert len(objects) == len(_base_objects())


def test_kustomization_lists_existing_files_and_pins_every_image() -> None:
    kust = _kustomization(BASE)
    for name in kust["resources"]:
        assert (BASE / name).is_file(), name
    assert "secrets.example.yaml" not in kust["resources"], "real secrets are created, never committed"
    pinned = {i["name"]: i["newTag"] for i in kust["images"]}
    assert all(tag and tag != "latest" for tag in pinned.values()), pinned
    for obj in _base_objects():
        for container in _containers(obj):
            image = container["image"]
            name, _, tag = image.partition(":")
            assert tag or name in pinned, f"{obj['kind']}/{obj['metadata']['name']}: {image} is not pinned"
            assert tag != "latest", image


# --- content -----------------------------------------------------------------------------------------------


def test_qdrant_is_a_three_node_cluster_with_volumes_key_and_tls() -> None:
    objects = _base_objects()
    sts = _find(objects, "StatefulSet", "qdrant")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == "qdrant-headless"
    headless = _find(objects, "Service", "qdrant-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert {p["port"] for p in headless["spec"]["ports"]} == {6333, 6334, 6335}
    claims = {c["metadata"]["name"]: c for c in sts["spec"]["volumeClaimTemplates"]}
    assert "storage" in claims
    container = sts["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["storage"] == "/qdrant/storage"
    env = {e["name"]: e for e in container["env"]}
    assert env["QDRANT__SERVICE__API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "qdrant-api-key"
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "qdrant-tls"
    config = yaml.safe_load(_find(objects, "ConfigMap", "qdrant-config")["data"]["govrag.yaml"])
    assert config["service"]["enable_tls"] is True
    assert config["cluster"] == {
        "enabled": True,
        "p2p": {"port": 6335, "enable_tls": True},
        "consensus": {"tick_period_ms": 100},
    }
    assert config["tls"]["cert"].startswith(mounts["tls"])
    script = container["args"][0]
    assert '--bootstrap "https://qdrant-0.qdrant-headless:6335"' in script
    anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    rule = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert rule["topologyKey"] == "kubernetes.io/hostname"


def test_vllm_serves_sealion_tp2_with_key_offline_model_and_health_readiness() -> None:
    objects = _base_objects()
    deployment = _find(objects, "Deployment", "vllm")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    tokens = _args(container)
    assert _flag(tokens, "--tensor-parallel-size") == "2"
    assert _flag(tokens, "--reasoning-parser") == "qwen3"
    assert _flag(tokens, "--served-model-name") == "aisingapore/Qwen-SEA-LION-v4-32B-IT"
    assert _flag(tokens, "--api-key") == "$(VLLM_API_KEY)"
    env = {e["name"]: e for e in container["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "vllm-api-key"
    assert env["HF_HUB_OFFLINE"]["value"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    model_mount = next(m for m in container["volumeMounts"] if m["name"] == "models")
    assert _flag(tokens, "--model").startswith(model_mount["mountPath"] + "/")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["models"]["persistentVolumeClaim"]["claimName"]
    assert _find(objects, "PersistentVolumeClaim", claim)
    api_env = _find(objects, "ConfigMap", "govrag-env")["data"]
    assert api_env["GOVRAG_GENERATOR__MODEL"] == _flag(tokens, "--served-model-name")


def test_single_gpu_overlay_serves_the_8bit_model_on_one_gpu() -> None:
    objects = _render(K8S / "overlays" / "single-gpu-8bit")
    container = _containers(_find(objects, "Deployment", "vllm"))[0]
    tokens = _args(container)
    assert _flag(tokens, "--tensor-parallel-size") == "1"
    assert _flag(tokens, "--reasoning-parser") == "qwen3"
    assert _flag(tokens, "--api-key") == "$(VLLM_API_KEY)"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    served = _flag(tokens, "--served-model-name")
    assert served.startswith("aisingapore/Qwen-SEA-LION-v4-32B-IT-")
    assert _find(objects, "ConfigMap", "govrag-env")["data"]["GOVRAG_GENERATOR__MODEL"] == served


def test_api_probes_hit_routes_the_app_serves() -> None:
    from rag.api.admin_routes import router as admin_router
    from rag.api.routes import router

    paths = {getattr(route, "path", None) for route in [*router.routes, *admin_router.routes]}
    objects = _base_objects()
    container = _containers(_find(objects, "Deployment", "govrag-api"))[0]
    probes = {k: container[k]["httpGet"]["path"] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    assert set(probes.values()) <= paths
    port = int(_find(objects, "ConfigMap", "govrag-env")["data"]["GOVRAG_API__PORT"])
    assert all(container[k]["httpGet"]["port"] == port for k in probes)
    hpa = _find(objects, "HorizontalPodAutoscaler", "govrag-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "govrag-api"
    assert hpa["spec"]["minReplicas"] >= 2
    ingress = _find(objects, "Ingress", "govrag-api")
    exposed = ingress["spec"]["rules"][0]["http"]["paths"]
    for entry in exposed:
        assert _find(objects, "Service", entry["backend"]["service"]["name"])
        prefix = entry["path"]
        assert any(p == prefix or (p or "").startswith(prefix + "/") for p in paths), f"no route for {prefix}"

    def public(path: str) -> bool:
        return any(
            path == e["path"] or (e["pathType"] == "Prefix" and path.startswith(e["path"].rstrip("/") + "/"))
            for e in exposed
        )

    assert public("/v1/query")
    assert public("/admin")  # the operator console
    assert public("/admin/admin.js")
    assert not any(public(p) for p in ("/metrics", "/healthz", "/readyz")), "ops endpoints are public"
    assert _find(objects, "PodDisruptionBudget", "govrag-api")["spec"]["minAvailable"] == 1


def _env_names(text: str) -> set[str]:
    return set(re.findall(r"\bGOVRAG_[A-Z0-9_]+\b", text))


def test_every_govrag_variable_is_a_real_setting() -> None:
    """A misspelt GOVRAG_ name is silently ignored by pydantic-settings: only documented names are used."""
    documented = _env_names((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    documented.add("GOVRAG_CONFIG")
    used: set[str] = set()
    for path in [*K8S.rglob("*.yaml"), COMPOSE, COMPOSE.parent / "govrag.env.example"]:
        text = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
        used |= _env_names(text)
    # The compose file's own interpolation variables are not govrag settings.
    used -= {"GOVRAG_MODELS_DIR"}
    assert used, "no GOVRAG_ variables found"
    assert used <= documented, f"not in docs/configuration.md: {sorted(used - documented)}"


def test_secrets_referenced_by_workloads_are_in_the_example() -> None:
    example = {d["metadata"]["name"]: d for d in _documents(BASE / "secrets.example.yaml")}
    for obj in _base_objects():
        for pod in _pod_specs(obj):
            for container in pod["containers"]:
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["key"] in example[ref["name"]]["stringData"], ref
            for volume in pod.get("volumes", []):
                if "secret" in volume:
                    secret = example[volume["secret"]["secretName"]]
                    for item in volume["secret"].get("items", []):
                        assert item["key"] in secret["stringData"], item


# --- KubeRay RayJob (a CRD) --------------------------------------------------------------------------------

#: The RayJob fields these manifests use, from KubeRay's ray.io/v1 CRD. Pod templates are checked against
#: the core PodTemplateSpec schema separately.
RAYJOB_SCHEMA: Doc = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayJob"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["entrypoint", "rayClusterSpec"],
            "additionalProperties": False,
            "properties": {
                "entrypoint": {"type": "string", "minLength": 1},
                "shutdownAfterJobFinishes": {"type": "boolean"},
                "ttlSecondsAfterFinished": {"type": "integer", "minimum": 0},
                "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
                "backoffLimit": {"type": "integer", "minimum": 0},
                "rayClusterSpec": {
                    "type": "object",
                    "required": ["headGroupSpec"],
                    "additionalProperties": False,
                    "properties": {
                        "rayVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                        "headGroupSpec": {
                            "type": "object",
                            "required": ["template"],
                            "additionalProperties": False,
                            "properties": {
                                "rayStartParams": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "template": {"type": "object"},
                            },
                        },
                        "workerGroupSpecs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["groupName", "template"],
                                "additionalProperties": False,
                                "properties": {
                                    "groupName": {"type": "string"},
                                    "replicas": {"type": "integer", "minimum": 0},
                                    "minReplicas": {"type": "integer", "minimum": 0},
                                    "maxReplicas": {"type": "integer", "minimum": 0},
                                    "rayStartParams": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                    "template": {"type": "object"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_rayjob_matches_kuberay_fields_and_pod_schema() -> None:
    rayjob = _find(_base_objects(), "RayJob", "govrag-ingest")
    jsonschema.validate(rayjob, RAYJOB_SCHEMA)
    cluster = rayjob["spec"]["rayClusterSpec"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        pod_template = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "check"},
            "template": group["template"],
        }
        _validate(pod_template)
    for group in cluster["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], group["groupName"]
    gpu = next(g for g in cluster["workerGroupSpecs"] if g["groupName"] == "embedders")
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert rayjob["spec"]["entrypoint"].startswith("govrag ingest ")
    assert "--executor ray" in rayjob["spec"]["entrypoint"]
    bad = copy.deepcopy(rayjob)
    bad["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, RAYJOB_SCHEMA)


def test_sync_cronjob_runs_incremental_ingest_without_overlap() -> None:
    cron = _find(_base_objects(), "CronJob", "govrag-sync")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    args = _containers(cron)[0]["args"]
    assert args[:2] == ["govrag", "ingest"]
    assert _flag(args, "--executor") == "ray"
    assert "--prune" in args


# --- compose -----------------------------------------------------------------------------------------------


def _compose() -> Doc:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _command_text(service: Doc) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_compose_images_are_pinned() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: no image (a built service still needs a pinned tag)"
        _, _, tag = image.rpartition(":")
        assert tag, f"{name}: image {image!r} has no tag"
        assert "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} floats on latest"


def test_compose_volumes_and_secrets_are_declared() -> None:
    compose = _compose()
    declared_volumes = set(compose.get("volumes", {}))
    declared_secrets = set(compose.get("secrets", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str):
                source = volume.split(":", 1)[0]
                if not source.startswith((".", "/", "$")):
                    assert source in declared_volumes, f"{name}: volume {source!r} not declared"
            else:
                assert volume["type"] in {"bind", "volume"}
                if volume["type"] == "volume":
                    assert volume["source"] in declared_volumes
        for secret in service.get("secrets", []):
            assert secret in declared_secrets, f"{name}: secret {secret!r} not declared"
            assert f"/run/secrets/{secret}" in _command_text(service), f"{name}: secret {secret} unused"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_compose_fixes_the_single_gpu_host_defects() -> None:
    compose = _compose()
    services = compose["services"]
    qdrant = {n: s for n, s in services.items() if n.startswith("qdrant-")}
    assert len(qdrant) == 3
    for name, service in qdrant.items():
        mounts = [v.split(":")[1] for v in service["volumes"]]
        assert "/qdrant/storage" in mounts, name
        assert "QDRANT__SERVICE__API_KEY" in _command_text(service)
        assert service["image"] == "qdrant/qdrant:v1.20.0"
    api = services["api"]
    # Replicas reach Qdrant through the balancer, not one node.
    assert api["environment"]["GOVRAG_INDEX__URL"] == "http://lb:6333"
    assert "GOVRAG_INDEX__API_KEY" in _command_text(api)
    assert api["build"]["args"]["TORCH_INDEX"]
    dockerfile = (COMPOSE.parent / api["build"]["dockerfile"].removeprefix("deploy/scale-out/")).read_text()
    assert re.search(r"^ARG TORCH_INDEX$", dockerfile, re.M)
    assert "ports" not in api, "replicas are reached through the balancer"
    assert services["lb"]["ports"] == ["8080:8080"]
    nginx = (COMPOSE.parent / "nginx.conf").read_text(encoding="utf-8")
    assert "server api:8080 resolve" in nginx
    assert all(f"server qdrant-{i}:6333" in nginx for i in range(3))
    vllm = services["vllm"]
    command = _command_text(vllm)
    assert "--reasoning-parser qwen3" in command
    assert "--tensor-parallel-size 1" in command
    assert '--api-key "$$(cat /run/secrets/vllm_api_key)"' in command
    model_volume = vllm["volumes"][0]
    assert model_volume["target"] == "/models"
    assert model_volume["read_only"] is True
    assert vllm["environment"]["HF_HUB_OFFLINE"] == "1"
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["count"] == 1


def test_sources_sync_cronjob_runs_govrag_sync_with_a_valid_sources_file_and_kept_crawl_state(
    tmp_path: Path,
) -> None:
    from ingest.settings import IngestSettings
    from ingest.sync_sources import load_sources

    objects = _base_objects()
    cron = _find(objects, "CronJob", "govrag-sources-sync")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = _containers(cron)
    args = container["args"]
    assert args[:2] == ["govrag", "sync"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert args[2] == mounts["sources"] + "/sources.yaml"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GOVRAG_INGEST__CRAWL__STATE_FILE"].startswith(mounts["state"] + "/")
    volumes = {v["name"]: v for v in cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["state"]["persistentVolumeClaim"]["claimName"]
    assert _find(objects, "PersistentVolumeClaim", claim)
    config = _find(objects, "ConfigMap", volumes["sources"]["configMap"]["name"])
    sources_file = tmp_path / "sources.yaml"  # the shipped file passes `govrag sync`'s own validation
    sources_file.write_text(config["data"]["sources.yaml"], encoding="utf-8")
    sources = load_sources(sources_file, IngestSettings())
    assert [s.schedule for s, _ in sources] == [cron["spec"]["schedule"]]
