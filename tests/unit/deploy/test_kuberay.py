"""`coral-runtime deploy kuberay`: the committed example, the CRD, and what the cluster runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from coral_serve.cli import main
from coral_serve.serving.args import BuilderArgs
from tests.conftest import REPO_ROOT, shared_file

DEPLOYMENTS = REPO_ROOT / "deployments"
EXAMPLE = DEPLOYMENTS / "coral-rayservice.yaml"


def generate(*args: str) -> Result:
    return CliRunner().invoke(main, ["deploy", "kuberay", *args])


def documents(text: str) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    result = generate("-c", str(DEPLOYMENTS / "runtime.yaml"))
    assert result.exit_code == 0, result.output
    return documents(result.output)


def strict(schema: Any) -> Any:
    """Kubernetes silently prunes fields a CRD does not know (a misspelt probe would just
    vanish); forbidding them here makes such a typo fail like `kubectl --validate=strict`."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if (
        result.get("type") == "object"
        and "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


@pytest.fixture(scope="module")
def crd_validator() -> jsonschema.Draft4Validator:
    crd = yaml.load(
        shared_file("kuberay", "ray.io_rayservices.yaml").read_text(), Loader=yaml.CSafeLoader
    )
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft4Validator(strict(version["schema"]["openAPIV3Schema"]))


def advertised(group: dict[str, Any]) -> dict[str, float]:
    """Undo KubeRay's shell quoting of `rayStartParams.resources`."""
    raw = group["rayStartParams"].get("resources")
    return json.loads(raw.strip('"').replace('\\"', '"')) if raw else {}


def pods(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cluster = service["spec"]["rayClusterConfig"]
    groups = {"head": cluster["headGroupSpec"]}
    groups.update({group["groupName"]: group for group in cluster["workerGroupSpecs"]})
    return groups


def test_committed_example_is_what_the_command_generates() -> None:
    result = generate("-c", str(DEPLOYMENTS / "runtime.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output == EXAMPLE.read_text(), "stale example: run `make manifests`"


def test_manifest_satisfies_the_rayservice_crd(
    manifests: dict[str, dict[str, Any]], crd_validator: jsonschema.Draft4Validator
) -> None:
    errors = [
        f"{list(e.path)}: {e.message}" for e in crd_validator.iter_errors(manifests["RayService"])
    ]
    assert errors == []
    misspelt = yaml.safe_load(yaml.safe_dump(manifests["RayService"]))
    head = misspelt["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    head["containers"][0]["livenesProbe"] = head["containers"][0].pop("livenessProbe")
    assert not crd_validator.is_valid(misspelt)


def test_the_cluster_rebuilds_the_descriptor_from_the_configmap(
    manifests: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    serve = yaml.safe_load(manifests["RayService"]["spec"]["serveConfigV2"])
    (application,) = serve["applications"]
    assert application["import_path"] == "coral_serve:build_app"
    args = application["args"]
    assert args["config_file"] == "/app/config/runtime.yaml"
    # What build_app does on the cluster, with the ConfigMap's file where the pod mounts it.
    mounted = tmp_path / "runtime.yaml"
    mounted.write_text(manifests["ConfigMap"]["data"]["runtime.yaml"])
    config = BuilderArgs.model_validate({**args, "config_file": mounted, "no_env": True}).load()
    assert config.http.auth.mode.value == "token"
    assert config.pipelines.store_path == "/data/coral.db"
    assert serve["http_options"] == {"host": "0.0.0.0", "port": config.http.port}

    groups = pods(manifests["RayService"])
    head_pod = groups["head"]["template"]["spec"]
    for pinned in (config.deployments.pipeline_service, config.deployments.monitor_service):
        assert set(pinned.ray_actor_options.resources) == {"head"}
    assert advertised(groups["head"]) == {"head": 1}
    assert advertised(groups["npu"]) == {"NPU": 3}
    assert advertised(groups["cpu"]) == {}
    # The store's volume is the PVC, mounted where the store lives, on the head only.
    (claim,) = [v for v in head_pod["volumes"] if "persistentVolumeClaim" in v]
    assert (
        claim["persistentVolumeClaim"]["claimName"]
        == manifests["PersistentVolumeClaim"]["metadata"]["name"]
    )
    (head,) = head_pod["containers"]
    assert {"name": claim["name"], "mountPath": "/data"} in head["volumeMounts"]
    for name, group in groups.items():
        spec = group["template"]["spec"]
        (container,) = spec["containers"]
        assert {"name": "serve", "containerPort": config.http.port} in container["ports"]
        assert any(
            v.get("configMap", {}).get("name") == manifests["ConfigMap"]["metadata"]["name"]
            for v in spec["volumes"]
        )
        if name != "head":
            assert not any("persistentVolumeClaim" in v for v in spec["volumes"])


def test_probes_ask_the_control_plane(manifests: dict[str, dict[str, Any]]) -> None:
    groups = pods(manifests["RayService"])
    (head,) = groups["head"]["template"]["spec"]["containers"]
    assert head["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "serve"}
    # KubeRay deploys the Serve config only once the head is ready: a /readyz probe there
    # would wait forever, so the head keeps KubeRay's own readiness check.
    assert "readinessProbe" not in head
    for name in ("cpu", "npu"):
        (worker,) = groups[name]["template"]["spec"]["containers"]
        assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "serve"}


def test_options_name_the_objects_and_images(tmp_path: Path) -> None:
    descriptor = tmp_path / "edge.yaml"
    descriptor.write_text("http:\n  port: 9100\n")
    result = generate(
        "-c",
        str(descriptor),
        "--name",
        "edge",
        "--image",
        "registry.local/coral:1",
        "--set",
        "pipelines.reconcile_interval=2",
    )
    assert result.exit_code == 0, result.output
    manifests = documents(result.output)
    groups = pods(manifests["RayService"])
    images = {name: g["template"]["spec"]["containers"][0]["image"] for name, g in groups.items()}
    assert images == {
        "head": "registry.local/coral:1",
        "cpu": "registry.local/coral:1",
        "npu": "registry.local/coral:1-rknn",
    }
    assert manifests["ConfigMap"]["metadata"]["name"] == "edge-config"
    serve = yaml.safe_load(manifests["RayService"]["spec"]["serveConfigV2"])
    assert serve["http_options"]["port"] == 9100
    assert serve["applications"][0]["args"]["overrides"][-1] == "pipelines.reconcile_interval=2"


def test_an_edited_descriptor_changes_what_kuberay_deploys(tmp_path: Path) -> None:
    descriptor = tmp_path / "runtime.yaml"
    served = []
    for interval in (5, 2):
        descriptor.write_text(f"pipelines:\n  reconcile_interval: {interval}\n")
        result = generate("-c", str(descriptor))
        assert result.exit_code == 0, result.output
        served.append(documents(result.output)["RayService"]["spec"]["serveConfigV2"])
    # Only serveConfigV2 changes make KubeRay rebuild the app from the mounted ConfigMap.
    assert served[0] != served[1]


def test_literal_secrets_are_refused_but_references_pass(tmp_path: Path) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text(
        "http:\n  auth:\n    mode: token\n    tokens:\n"
        "      - {name: ops, role: admin, token: do-not-ship-me-0123456789}\n"
    )
    refused = generate("-c", str(descriptor))
    assert refused.exit_code != 0
    assert "http.auth.tokens[0].token" in refused.output
    assert "do-not-ship-me" not in refused.output

    descriptor.write_text(
        "streams:\n  webrtc:\n    ice_servers:\n"
        "      - {urls: ['turn:relay:3478'], credential: '${oc.env:CORAL_TURN_CREDENTIAL,x}'}\n"
    )
    assert generate("-c", str(descriptor)).exit_code == 0


def test_a_resource_no_group_advertises_is_refused(tmp_path: Path) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text("{}\n")
    result = generate(
        "-c", str(descriptor), "--set", "deployments.ingress.ray_actor_options.resources={tpu: 1}"
    )
    assert result.exit_code != 0
    assert "deployments.ingress asks for tpu" in result.output


def test_a_bad_descriptor_exits_2_naming_the_key(tmp_path: Path) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text("http:\n  port: 99999\n")
    result = generate("-c", str(descriptor))
    assert result.exit_code == 2
    assert "http.port" in result.output


def test_pod_sizes_and_group_replicas_come_from_the_descriptor(
    tmp_path: Path, crd_validator: jsonschema.Draft4Validator
) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text(
        "kuberay:\n"
        "  head: {cpu: 4, memory: 16Gi}\n"
        "  cpu_workers: {replicas: 2, min_replicas: 2, max_replicas: 10, cpu: 0.5, memory: 1Gi}\n"
        "  npu_workers: {replicas: 3, max_replicas: 3, cpu: 8, memory: 12Gi, npu_per_node: 1}\n"
    )
    result = generate("-c", str(descriptor))
    assert result.exit_code == 0, result.output
    service = documents(result.output)["RayService"]
    assert list(crd_validator.iter_errors(service)) == []
    groups = pods(service)
    limits = {
        name: group["template"]["spec"]["containers"][0]["resources"]["limits"]
        for name, group in groups.items()
    }
    assert limits == {
        "head": {"cpu": "4", "memory": "16Gi"},
        "cpu": {"cpu": "0.5", "memory": "1Gi"},
        "npu": {"cpu": "8", "memory": "12Gi"},
    }
    replicas = {
        name: (group["replicas"], group["minReplicas"], group["maxReplicas"])
        for name, group in groups.items()
        if name != "head"
    }
    assert replicas == {"cpu": (2, 2, 10), "npu": (3, 0, 3)}
    assert advertised(groups["npu"]) == {"NPU": 1}


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("kuberay.npu_workers.replicas=9", "kuberay.npu_workers"),
        ("kuberay.head.memory=lots", "kuberay.head.memory"),
        ("kuberay.cpu_workers.cpu=0", "kuberay.cpu_workers.cpu"),
    ],
)
def test_a_cluster_size_that_cannot_be_exits_2_naming_the_key(
    tmp_path: Path, setting: str, key: str
) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text("{}\n")
    result = generate("-c", str(descriptor), "--set", setting)
    assert result.exit_code == 2, result.output
    assert key in result.output


def test_every_pod_runs_ray_with_the_descriptors_serve_switches(tmp_path: Path) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text("runtime:\n  serve: {throughput_optimized: false}\n  worker_nice: 5\n")
    result = generate("-c", str(descriptor))
    assert result.exit_code == 0, result.output
    expected = {
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "0",
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
        "RAY_SERVE_ENABLE_HA_PROXY": "0",
        "CORAL_WORKER_NICE": "5",
    }
    for group in pods(documents(result.output)["RayService"]).values():
        (container,) = group["template"]["spec"]["containers"]
        assert {e["name"]: e["value"] for e in container["env"]} == expected


def test_shared_media_mounts_the_claim_on_every_pod(
    tmp_path: Path, crd_validator: jsonschema.Draft4Validator
) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text("streams:\n  media: {shared: true}\n")
    missing = generate("-c", str(descriptor))
    assert missing.exit_code == 2
    assert "kuberay.media_claim" in missing.output

    result = generate("-c", str(descriptor), "--set", "kuberay.media_claim=coral-media")
    assert result.exit_code == 0, result.output
    service = documents(result.output)["RayService"]
    assert list(crd_validator.iter_errors(service)) == []
    for group in pods(service).values():
        spec = group["template"]["spec"]
        (media,) = [v for v in spec["volumes"] if v["name"] == "media"]
        assert media["persistentVolumeClaim"] == {"claimName": "coral-media"}
        (container,) = spec["containers"]
        mounted = {m["mountPath"]: m.get("subPath") for m in container["volumeMounts"]}
        expected = {f"/data/{sub}": sub for sub in ("recordings", "events", "downloads")}
        assert {path: mounted.get(path) for path in expected} == expected
