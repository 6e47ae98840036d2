"""`pipelines.isolation: shared` on Ray: pipelines run as threads of host actors, one per node
and resource shape, each host sharing one session per model (`workers/host.py`).

A host is a named, detached actor like a process-mode worker, so it outlives a Serve
redeploy and any replica finds the pipelines it holds by asking the hosts. It reserves its
resource shape once, for all of its pipelines. Only PipelineService starts and stops
pipelines (one replica), so placement is decided in one process, under one lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError
from ray.util import list_named_actors
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from coral_serve.config.pipelines import Isolation
from coral_serve.engine.model_files import ModelFiles
from coral_serve.engine.recording_files import RecordingSettings
from coral_serve.schema.spec import PipelineSpec, ResourcesSpec
from coral_serve.workers.pool import WorkerGone
from coral_serve.workers.ray_pool import RayWorkerPool, placement

__all__ = ["HOST_PREFIX", "SharedRayWorkerPool", "host_name", "ray_worker_pool"]

log = logging.getLogger(__name__)

HOST_PREFIX = "coral-host-"
# Threads per host: each pipeline may have a few streaming `wait_view` calls in flight
# (one per StreamService replica) beside status, results and event reads.
_HOST_CONCURRENCY = 256
_STOP_GRACE_SECONDS = 5.0
_ASK_TIMEOUT = 2.0  # a host that does not answer this fast is still waiting for resources
_PROBE_SECONDS = 2.0


def host_env(malloc_arenas: int) -> dict[str, Any]:
    """Ray options of a host process: `malloc_arenas` caps glibc's malloc arenas
    (MALLOC_ARENA_MAX, read when the process starts; each engine thread would get its own);
    0 leaves glibc's default of 8 per core."""
    if not malloc_arenas:
        return {}
    return {"runtime_env": {"env_vars": {"MALLOC_ARENA_MAX": str(malloc_arenas)}}}


def shape_key(resources: ResourcesSpec) -> str:
    """A short name for a resource shape: pipelines asking for the same share a host."""
    shape = [resources.num_cpus, resources.num_gpus, sorted(resources.custom.items())]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:10]


def host_name(resources: ResourcesSpec, node_id: str) -> str:
    return f"{HOST_PREFIX}{shape_key(resources)}-{node_id}"


@ray.remote(max_retries=0)
def _node_with_room() -> str:
    """Run with a shape's resources: the node Ray's scheduler found them free on."""
    return ray.get_runtime_context().get_node_id()


class SharedRayWorkerPool(RayWorkerPool):
    """Picklable like its parent; each replica keeps its own map of pipelines to hosts."""

    def __init__(
        self,
        namespace: str,
        recordings: RecordingSettings | None = None,
        model_files: ModelFiles | None = None,
        malloc_arenas: int = 0,
    ) -> None:
        super().__init__(namespace, recordings, model_files)
        self.malloc_arenas = malloc_arenas  # `pipelines.host_malloc_arenas`
        self._placed: dict[str, str] = {}  # pipeline id -> host name
        self._host_handles: dict[str, Any] = {}
        # Hosts seen in a listing of named actors: one this pool has just created may not
        # be listed yet, and is not gone for that.
        self._listed: set[str] = set()
        self._starting: dict[str, Any] = {}  # pipeline id -> its host's start call in flight
        self._placing = asyncio.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "malloc_arenas": self.malloc_arenas}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.malloc_arenas = state.get("malloc_arenas", 0)

    async def start(
        self, pipeline_id: str, spec: PipelineSpec, generation: int, paused: bool = False
    ) -> None:
        """Hand the pipeline to its node's host (created if need be) and return: a host still
        waiting for its resources takes the pipeline when it starts, and calls wait for that
        (a threaded actor may run a later call first)."""
        async with self._placing:
            await self._kill(pipeline_id)
            name = await self._host_for(spec.resources)
            host = self._host_handles[name]
            self._starting[pipeline_id] = host.start.remote(
                pipeline_id, spec, generation, self.recordings, paused, self.model_files
            )
            self._placed[pipeline_id] = name

    async def has_room(self, spec: PipelineSpec) -> bool:
        prefix = f"{HOST_PREFIX}{shape_key(spec.resources)}-"
        if any(name.startswith(prefix) for name in await self._host_names()):
            return True  # a host of this shape takes any number of pipelines
        return await super().has_room(spec)

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        name = await self._locate(pipeline_id)
        await asyncio.wait_for(self._started(pipeline_id), max(0.0, deadline - loop.time()))
        host = await self._handle(name)
        try:
            ref = host.call.remote(pipeline_id, method, *args)
            return await asyncio.wait_for(ref, max(0.0, deadline - loop.time()))
        except WorkerGone:
            self._placed.pop(pipeline_id, None)
            raise WorkerGone(pipeline_id) from None
        except (RayActorError, GetTimeoutError) as exc:
            self._forget_host(name)
            raise WorkerGone(pipeline_id) from exc

    async def kill(self, pipeline_id: str) -> None:
        async with self._placing:
            await self._kill(pipeline_id)

    async def live(self) -> set[str]:
        """Pipelines the hosts hold, and those handed to a host that exists but has not
        answered yet (waiting for its resources, as a pending process-mode actor does)."""
        names = await self._host_names()
        for gone in (set(self._host_handles) - names) & self._listed:
            self._forget_host(gone)
        answers = await self._ask_hosts(names)
        ids = {pid for held in answers.values() for pid in held}
        ids |= {
            pid
            for pid, name in self._placed.items()
            if name not in self._listed or name not in answers or pid in self._starting
        }
        return ids

    # -- placement ----------------------------------------------------------------------

    async def _host_for(self, resources: ResourcesSpec) -> str:
        """The host of `resources`' shape on the node Ray would place such a worker on."""
        node = await self._pick_node(resources)
        name = host_name(resources, node)
        if name not in self._host_handles:
            # Here, not at the top: every replica unpickles this pool, and only this one
            # (PipelineService's) needs the engine the host imports.
            from coral_serve.workers.host import PipelineHost

            actor = ray.remote(PipelineHost).options(
                name=name,
                namespace=self.namespace,
                lifetime="detached",
                get_if_exists=True,
                **placement(resources),
                **host_env(self.malloc_arenas),
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                max_concurrency=_HOST_CONCURRENCY,
                max_restarts=0,  # PipelineService restarts its pipelines per their policies
            )
            self._host_handles[name] = actor.remote()
            self._listed.discard(name)  # a new host of a name a gone one had
        return name

    async def _pick_node(self, resources: ResourcesSpec) -> str:
        """One node: itself. Several: where the shape is free now (a short probe task placed
        like a worker), else a node that already has a host of the shape, else the first
        node whose totals fit (its host waits there for room)."""
        nodes = [node for node in await asyncio.to_thread(ray.nodes) if node.get("Alive")]
        if len(nodes) == 1:
            return str(nodes[0]["NodeID"])
        probe = _node_with_room.options(**placement(resources)).remote()
        try:
            return str(await asyncio.wait_for(probe, _PROBE_SECONDS))
        except asyncio.TimeoutError:
            ray.cancel(probe)
        prefix = f"{HOST_PREFIX}{shape_key(resources)}-"
        for name in sorted(await self._host_names()):
            if name.startswith(prefix):
                return name[len(prefix) :]
        wanted = placement(resources)
        amounts = {"CPU": wanted["num_cpus"], "GPU": wanted["num_gpus"], **resources.custom}
        for node in nodes:
            total = node.get("Resources", {})
            if all(total.get(key, 0.0) >= amount for key, amount in amounts.items() if amount):
                return str(node["NodeID"])
        return str(nodes[0]["NodeID"])

    async def _started(self, pipeline_id: str) -> None:
        """Wait for the host to have taken the pipeline. A start that failed (the host died,
        or the worker could not be built) leaves no worker, as a dead actor does."""
        ref = self._starting.get(pipeline_id)
        if ref is None:
            return
        try:
            await ref
        except RayError as exc:
            self._drop_start(pipeline_id, ref)
            raise WorkerGone(pipeline_id) from exc
        self._drop_start(pipeline_id, ref)

    def _drop_start(self, pipeline_id: str, ref: Any) -> None:
        if self._starting.get(pipeline_id) is ref:
            del self._starting[pipeline_id]

    async def _kill(self, pipeline_id: str) -> None:
        """Stop the pipeline; a host left with none is stopped too, freeing its resources."""
        self._starting.pop(pipeline_id, None)
        name = self._placed.pop(pipeline_id, None)
        if name is None:
            try:
                name = await self._locate(pipeline_id)
            except WorkerGone:
                return
            self._placed.pop(pipeline_id, None)
        host = self._host_handles.get(name)
        if host is None:
            return
        try:
            left = await asyncio.wait_for(host.kill.remote(pipeline_id), _STOP_GRACE_SECONDS)
        except (RayActorError, asyncio.TimeoutError):
            log.warning("host %s did not stop pipeline %s in time", name, pipeline_id)
            return
        if not left and name not in self._placed.values():
            self._forget_host(name)
            ray.kill(host, no_restart=True)

    # -- finding hosts and their pipelines ---------------------------------------------

    async def _host_names(self) -> set[str]:
        named = await asyncio.to_thread(list_named_actors, all_namespaces=True)
        names = {
            entry["name"]
            for entry in named
            if entry.get("namespace") == self.namespace
            and str(entry.get("name", "")).startswith(HOST_PREFIX)
        }
        self._listed |= names
        return names

    async def _locate(self, pipeline_id: str) -> str:
        """The name of the host holding the pipeline; WorkerGone if none does."""
        name = self._placed.get(pipeline_id)
        if name is not None:
            return name
        for name, held in (await self._ask_hosts(await self._host_names())).items():
            if pipeline_id in held:
                return name
        raise WorkerGone(pipeline_id)

    async def _ask_hosts(self, names: set[str]) -> dict[str, list[str]]:
        """What each host that answers in time holds; remembered as where each pipeline is."""

        async def ask(name: str) -> list[str] | None:
            try:
                host = await self._handle(name)
                return await asyncio.wait_for(host.pipelines.remote(), _ASK_TIMEOUT)
            except (RayActorError, asyncio.TimeoutError, ValueError):
                return None

        ordered = sorted(names)
        replies = await asyncio.gather(*(ask(name) for name in ordered))
        answers = {
            name: held for name, held in zip(ordered, replies, strict=True) if held is not None
        }
        for name, held in answers.items():
            for pipeline_id in held:
                if pipeline_id not in self._starting:  # else this pool just placed it
                    self._placed[pipeline_id] = name
        return answers

    async def _handle(self, name: str) -> Any:
        handle = self._host_handles.get(name)
        if handle is None:
            handle = await asyncio.to_thread(ray.get_actor, name, namespace=self.namespace)
            self._host_handles[name] = handle
        return handle

    def _forget_host(self, name: str) -> None:
        self._host_handles.pop(name, None)
        self._listed.discard(name)
        for pipeline_id in [pid for pid, held in self._placed.items() if held == name]:
            del self._placed[pipeline_id]
            self._starting.pop(pipeline_id, None)


def ray_worker_pool(
    isolation: Isolation,
    namespace: str,
    recordings: RecordingSettings | None = None,
    model_files: ModelFiles | None = None,
    host_malloc_arenas: int = 0,
) -> RayWorkerPool:
    """The Ray pool of `pipelines.isolation` (`host_malloc_arenas`: its hosts', if shared)."""
    if Isolation(isolation) is Isolation.shared:
        return SharedRayWorkerPool(namespace, recordings, model_files, host_malloc_arenas)
    return RayWorkerPool(namespace, recordings, model_files)
