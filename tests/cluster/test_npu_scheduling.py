"""NPU pipelines on the simulated cluster, through the real HTTP API: models are checked on
the NPU node (the head cannot even import the runtime), pipelines wait `pending` while the
node is full and run when it has room, a broken model file there fails with the reason, and
pipelines move with the node when it is lost and replaced."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import ray

from coral_serve.deploy.kuberay import HEAD_RESOURCE
from tests.cluster.conftest import API, CoralGraph, SimulatedCluster
from tests.conftest import shared_file
from tests.integration.server import wait_until

PIPELINES = f"{API}/pipelines"
VIDEO = shared_file("media", "vtest-10s.mp4")
NODE_EVENTS = 90.0  # a lost node is noticed in ~5 s; a restart backs off a few seconds more


def rknn_pipeline(name: str, model: Path) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"uri": str(VIDEO), "loop": True},
        "model": {
            "backend": "rknn",
            "path": str(model),
            "decoder": "yolo-nms",
            "classes": ["car", "person"],
            "input_size": [64, 64],
        },
        "resources": {"num_cpus": 0, "custom": {"NPU": 1}},
    }


@ray.remote(num_cpus=0, resources={HEAD_RESOURCE: 0.001})
def _head_has_rknnlite() -> bool:
    return importlib.util.find_spec("rknnlite") is not None


def create(coral: CoralGraph, spec: dict[str, Any]) -> dict[str, Any]:
    response = coral.client.post(PIPELINES, json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def status(coral: CoralGraph, pipeline_id: str) -> dict[str, Any]:
    return coral.client.get(f"{PIPELINES}/{pipeline_id}/status").json()


def wait_state(
    coral: CoralGraph, pipeline_id: str, state: str, timeout: float = 60.0
) -> dict[str, Any]:
    return wait_until(
        lambda: status(coral, pipeline_id), lambda s: s["state"] == state, timeout=timeout
    )


def events(coral: CoralGraph, pipeline_id: str) -> list[tuple[str, str]]:
    listed = coral.client.get(f"{PIPELINES}/{pipeline_id}/events").json()
    return [(event["kind"], event["detail"]) for event in listed]


def test_rknn_pipelines_are_checked_wait_fail_and_move_with_the_npu_node(
    cluster: SimulatedCluster, coral: CoralGraph
) -> None:
    assert importlib.util.find_spec("rknnlite") is None
    assert ray.get(_head_has_rknnlite.remote()) is False
    detector = cluster.npu_models / "detector.rknn"
    detector.write_bytes(b"RKNN model for the stand-in runtime")
    broken = cluster.npu_models / "broken.rknn"
    broken.write_bytes(b"not an RKNN model")
    npu = cluster.npu

    # Checked and run on the NPU node: the fake runtime's detections come back.
    a, b = (create(coral, rknn_pipeline(name, detector)) for name in ("npu-a", "npu-b"))
    for pipeline in (a, b):
        wait_state(coral, pipeline["id"], "running")
        assert cluster.node_of(pipeline["id"]) == npu.node_id
    results = wait_until(
        lambda: coral.client.get(f"{PIPELINES}/{a['id']}/results").json(), lambda r: len(r) > 0
    )
    assert {d["class"] for d in results[0]["detections"]} == {"person"}

    # The node's two NPUs are taken: a third is accepted, pending, and says what it waits for.
    c = create(coral, rknn_pipeline("npu-c", detector))
    assert c["status"]["state"] == "pending"
    assert c["status"]["reason"] == "waiting for a node with free NPU 1 to check its model"
    coral.client.delete(f"{PIPELINES}/{a['id']}").raise_for_status()
    wait_state(coral, c["id"], "running")
    assert cluster.node_of(c["id"]) == npu.node_id

    # A broken file there: accepted while the node is full, failed once it is checked.
    bad = create(coral, rknn_pipeline("npu-broken", broken))
    assert bad["status"]["state"] == "pending"
    coral.client.delete(f"{PIPELINES}/{b['id']}").raise_for_status()
    failed = wait_state(coral, bad["id"], "failed")
    assert failed["reason"] == f"model: {broken} is not a valid RKNN model (load_rknn failed)"
    assert ("failed", failed["reason"]) in events(coral, bad["id"])
    coral.client.delete(f"{PIPELINES}/{bad['id']}").raise_for_status()

    # The node crashes: its pipeline waits, pending, instead of failing ...
    cluster.remove_npu_node()
    pending = wait_state(coral, c["id"], "pending", timeout=NODE_EVENTS)
    assert pending["reason"] == "waiting for a node with free NPU 1"
    assert ("failed", "worker process died") in events(coral, c["id"])

    # ... and runs again on the node that replaces it (as KubeRay recreates a lost pod).
    replacement = cluster.add_npu_node()
    wait_state(coral, c["id"], "running", timeout=NODE_EVENTS)
    assert cluster.node_of(c["id"]) == replacement.node_id
    # The disk report follows: the lost node's disk is gone from it, the new one's is there.
    disks = wait_until(
        lambda: {n["node"] for n in coral.client.get(f"{API}/monitor/disk").json()["nodes"]},
        lambda nodes: replacement.node_id in nodes,
    )
    assert npu.node_id not in disks
    coral.client.delete(f"{PIPELINES}/{c['id']}").raise_for_status()
