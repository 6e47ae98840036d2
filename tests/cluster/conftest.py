"""One simulated cluster shaped like the generated RayService, shared by this tier's tests.

Fixtures (session scoped: one cluster and one Serve graph for the whole tier):

- `cluster` (`SimulatedCluster`): three nodes on this machine as `deploy kuberay` lays them
  out: `head` (the `head` resource, 1 CPU), `cpu` (4 CPUs) and `npu` (`NPU: 2` and no CPU,
  so that no Serve replica lands on the node the tests kill; on KubeRay the replicas would
  go with it and answer 503 until Serve replaces them). Only NPU nodes can import `rknnlite`
  (the stand-in under `npu_site/`); the head and the test process cannot. Each node has its
  own data directory (`data_dir(node)`), which its processes see as
  `CORAL_PIPELINES__DATA_DIR`, as a pod sees its own volume; the files of the NPU image
  (`npu_models`, a model root) are the same for every NPU node. `remove_npu_node()` and
  `add_npu_node()` replace the NPU node as KubeRay recreates a lost pod; `node_of(id)` says
  where a pipeline's worker runs.
- `coral` (`CoralGraph`): the real Serve graph with the cluster profile (`deploy=cluster`),
  the ingress at 2 replicas and StreamService at 3, served over HTTP on 127.0.0.1
  (`url`, a sync `client` with `/api/v1` as `API`). `GRAPH_SETS` are its descriptor overrides.

Tests leave the cluster as they found it: they delete their pipelines, and one that removes
the NPU node adds a new one before it ends.

This tier is its own pytest invocation (`make test-cluster`): the test process becomes a
driver of the simulated cluster, which no other Ray test may share.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import ray
from ray import serve
from ray.cluster_utils import Cluster

from coral_serve.config import ConfigSources, CoralConfig, load_config
from coral_serve.deploy.kuberay import HEAD_RESOURCE, NPU_RESOURCE
from coral_serve.serving.graph import bind_graph
from coral_serve.workers.pool import worker_name
from tests.conftest import EXAMPLES_DIR, shared_dir
from tests.integration.processes import free_port
from tests.integration.server import wait_until

API = "/api/v1"
NAMESPACE = "coral-cluster-test"
NPU_SITE = Path(__file__).parent / "npu_site"
NPU_PER_NODE = 2
# Notice a crashed node within seconds rather than Ray's default of about half a minute.
HEALTH_CHECKS = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}
_OBJECT_STORE_BYTES = 100 << 20  # per node; Ray's default (30 % of RAM) times three is too much
GRAPH_SETS = (
    "deploy=cluster",
    "demo=none",
    "pipelines.reconcile_interval=0.5",
    "deployments.ingress.autoscaling=null",
    "deployments.ingress.num_replicas=2",
    "deployments.stream_service.autoscaling=null",
    "deployments.stream_service.num_replicas=3",
    "streams.webrtc.host_addresses=[127.0.0.1]",
    "pipelines.outbound.allow_loopback=true",  # downloads from the tests' own HTTP server
    f"runtime.namespace={NAMESPACE}",
)


@dataclass
class SimulatedCluster:
    cluster: Cluster
    root: Path
    head: Any
    cpu: Any
    npu: Any | None = None
    _data_dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def npu_models(self) -> Path:
        """Files every NPU node has (baked into the rknn image), and no other node needs."""
        return self.root / "npu-image" / "models"

    def data_dir(self, node: Any) -> Path:
        return self._data_dirs[node.node_id]

    def add_npu_node(self) -> Any:
        self.npu = self._add("npu", num_cpus=0, resources={NPU_RESOURCE: NPU_PER_NODE})
        return self.npu

    def remove_npu_node(self) -> None:
        """A crash, not a drain: the node's processes are killed."""
        if self.npu is not None:
            self.cluster.remove_node(self.npu, allow_graceful=False)
            self.npu = None

    def node_of(self, pipeline_id: str) -> str:
        worker = ray.get_actor(worker_name(pipeline_id), namespace=NAMESPACE)
        return ray.get(
            worker.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
        )

    def _add(self, role: str, head: bool = False, **node_args: Any) -> Any:
        data_dir = Path(tempfile.mkdtemp(prefix=f"{role}-", dir=self.root))
        env = {"CORAL_PIPELINES__DATA_DIR": str(data_dir)}
        if role == "npu":
            env["PYTHONPATH"] = str(NPU_SITE)
        node_args.update(
            object_store_memory=_OBJECT_STORE_BYTES,
            env_vars=env,
        )
        if head:
            node_args.update(include_dashboard=False, _system_config=HEALTH_CHECKS)
        node = self.cluster.add_node(**node_args)
        self._data_dirs[node.node_id] = data_dir
        return node


@dataclass
class CoralGraph:
    url: str
    client: httpx.Client
    config: CoralConfig


@pytest.fixture(scope="session")
def cluster() -> Iterator[SimulatedCluster]:
    """Its own RAY_TMPDIR keeps Ray's address file away from /tmp/ray, where a concurrent
    `ray.init()` on this machine would find this cluster and join it; it also marks every
    process of this cluster, so teardown can prove none is left behind."""
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    root = Path(tempfile.mkdtemp(prefix="coral-cluster-"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_TMPDIR", ray_tmp)
        env.setenv("RAY_AUTH_MODE", "disabled")
        simulated = SimulatedCluster(Cluster(), root, head=None, cpu=None)
        try:
            simulated.head = simulated._add(
                "head", head=True, num_cpus=1, resources={HEAD_RESOURCE: 1}
            )
            simulated.cpu = simulated._add("cpu", num_cpus=4)
            simulated.add_npu_node()
            simulated.npu_models.mkdir(parents=True)
            address = simulated.cluster.address
            ray.init(address=address, namespace=NAMESPACE, logging_level="WARNING")
            yield simulated
        finally:
            ray.shutdown()
            simulated.cluster.shutdown()
            leftovers = _wait_gone(ray_tmp)
            shutil.rmtree(ray_tmp, ignore_errors=True)
            shutil.rmtree(root, ignore_errors=True)
    assert leftovers == [], f"Ray processes outlived the cluster: {leftovers}"


@pytest.fixture(scope="session")
def coral(cluster: SimulatedCluster) -> Iterator[CoralGraph]:
    """The graph as `serve deploy` runs it on KubeRay; one proxy (on the head) on a free port."""
    port = free_port()
    sets = [
        *GRAPH_SETS,
        f"pipelines.data_dir={cluster.data_dir(cluster.head)}",
        f"pipelines.sources.file_roots=[{EXAMPLES_DIR / 'media'},{shared_dir() / 'media'}]",
        f"pipelines.models.roots=[{cluster.npu_models}]",
        "http.host=127.0.0.1",
        f"http.port={port}",
    ]
    config = load_config(ConfigSources(sets=sets, use_env=False))
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(bind_graph(config), name=config.runtime.app_name, route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            wait_until(lambda: _ready(client), bool, timeout=120)
            yield CoralGraph(url, client, config)
    finally:
        serve.shutdown()


def _ready(client: httpx.Client) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return client.get("/readyz").status_code == 200
    return False


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
