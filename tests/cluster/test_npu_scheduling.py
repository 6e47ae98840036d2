"""Pipelines on a multi-node Ray cluster, simulated on this machine: placement by custom
resource, `pending` while no node has it free, rescheduling after the node dies.

Its own pytest invocation (`make test-cluster`): this process becomes a driver of the
simulated cluster, which no other Ray test may share.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
import ray
from ray.cluster_utils import Cluster

from coral_serve.config import ConfigSources, load_config
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.views import PipelineView
from coral_serve.services.pipeline import PipelineService
from coral_serve.workers.pool import worker_name
from coral_serve.workers.ray_pool import RayWorkerPool
from tests.conftest import shared_file
from tests.unit.waiting import eventually

NAMESPACE = "coral-cluster-test"
NPU_NODE = {"num_cpus": 0, "resources": {"NPU": 2}}
# Notice a crashed node within seconds rather than Ray's default of about half a minute.
HEALTH_CHECKS = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """A head without resources of its own, plus one node advertising {NPU: 2}.

    Its own RAY_TMPDIR keeps Ray's address file away from /tmp/ray, where a concurrent
    `ray.init()` on this machine would find this cluster and join it; it also marks every
    process of this cluster, so teardown can prove none is left behind.
    """
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    simulated = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "_system_config": HEALTH_CHECKS,
        },
    )
    try:
        simulated.add_node(**NPU_NODE)
        ray.init(address=simulated.address, namespace=NAMESPACE, logging_level="WARNING")
        yield simulated
    finally:
        ray.shutdown()
        simulated.shutdown()
        leftovers = _wait_gone(ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
        assert leftovers == [], f"Ray processes outlived the cluster: {leftovers}"


def _processes_of(ray_tmp: str) -> list[psutil.Process]:
    """Every process started under this cluster's RAY_TMPDIR, orphans of a killed node too."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and proc.environ().get("RAY_TMPDIR") == ray_tmp:
                found.append(proc)
    return found


def _wait_gone(ray_tmp: str, timeout: float = 30.0) -> list[str]:
    """Wait for the cluster's processes to exit; kill and name any that do not."""
    _, alive = psutil.wait_procs(_processes_of(ray_tmp), timeout=timeout)
    names = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            names.append(proc.name())
            proc.kill()
    return names


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
async def service(tmp_path: Path, video: Path, cluster: Cluster) -> AsyncIterator[PipelineService]:
    """PipelineService with Ray workers, driven in this process: no Serve, no HTTP."""
    config = load_config(
        ConfigSources(
            sets=[
                "demo=none",  # the dev profile's demo would wait for a CPU no node offers
                f"pipelines.data_dir={tmp_path / 'data'}",
                f"pipelines.sources.file_roots=[{video.parent}]",
                "pipelines.reconcile_interval=0.5",
                f"runtime.namespace={NAMESPACE}",
            ],
            use_env=False,
        )
    )
    pipelines = PipelineService(config, RayWorkerPool(NAMESPACE))
    await pipelines.start()
    try:
        yield pipelines
    finally:
        await pipelines.stop()


def npu_pipeline(name: str, video: Path) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": name,
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
            "resources": {"num_cpus": 0, "custom": {"NPU": 1}},
        }
    )


async def states(service: PipelineService) -> dict[str, PipelineView]:
    return {view.name: view for view in await service.list()}


def by_state(views: dict[str, PipelineView]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, view in sorted(views.items()):
        grouped.setdefault(view.status.state, []).append(name)
    return grouped


async def node_of(pipeline_id: str) -> str:
    worker = ray.get_actor(worker_name(pipeline_id), namespace=NAMESPACE)
    return await worker.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())


def counts(views: dict[str, PipelineView]) -> dict[str, int]:
    return {state: len(names) for state, names in by_state(views).items()}


async def test_npu_pipelines_land_wait_and_move_with_the_node(
    service: PipelineService, cluster: Cluster, video: Path
) -> None:
    (npu_node,) = cluster.worker_nodes
    created = [await service.create(npu_pipeline(f"npu-{n}", video)) for n in range(3)]
    ids = {view.name: view.id for view in created}

    # Two fit on the node's two NPUs; the third waits, saying for what, and does not fail.
    views = await eventually(
        lambda: states(service), lambda v: counts(v) == {"running": 2, "pending": 1}, timeout=90
    )
    (waiting,) = by_state(views)["pending"]
    assert views[waiting].status.reason == "waiting for a node with free NPU 1"
    running = by_state(views)["running"]
    assert {await node_of(ids[name]) for name in running} == {npu_node.node_id}

    # The node crashes: its pipelines are restarted by the reconciler, and with no NPU left
    # anywhere every one of them waits, pending, instead of failing.
    cluster.remove_node(npu_node, allow_graceful=False)
    views = await eventually(
        lambda: states(service),
        lambda v: counts(v) == {"pending": 3} and all(v[n].generation > 1 for n in running),
        timeout=90,
    )
    for name in running:
        kinds = [(e.kind, e.detail) for e in await service.events(ids[name])]
        assert ("failed", "worker process died") in kinds

    # A replacement node joins (as KubeRay recreates a lost pod): two run there again.
    replacement = cluster.add_node(**NPU_NODE)
    views = await eventually(
        lambda: states(service), lambda v: counts(v) == {"running": 2, "pending": 1}, timeout=90
    )
    moved = by_state(views)["running"]
    assert {await node_of(ids[name]) for name in moved} == {replacement.node_id}
