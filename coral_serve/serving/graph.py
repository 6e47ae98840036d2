"""`bind_graph(config)`: the Ray Serve graph; it reads like the graph.

Ingress (FastAPI) ── PipelineService, StreamService, MonitorService, HealthService, EventService

On one box the ingress replica may run every service itself (`deployments.combine`), or
HealthService alone (`health.in_ingress`).
"""

from __future__ import annotations

import functools
from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.deployment import Deployment

from coral_serve.config import CoralConfig
from coral_serve.config.deployments import DeploymentOptions
from coral_serve.engine.model_files import ModelFiles
from coral_serve.services.events import EventService
from coral_serve.services.health import HealthService
from coral_serve.services.monitor import MonitorService
from coral_serve.services.pipeline import PipelineService
from coral_serve.services.stream import StreamService
from coral_serve.serving.ingress import Ingress
from coral_serve.serving.local_services import Recipes, Sibling
from coral_serve.serving.media_nodes import RayMediaNodes
from coral_serve.serving.session_router import replica_tag, session_routing
from coral_serve.serving.states import serve_deployment_states
from coral_serve.sinks.ray_metrics import RayMetricsSink
from coral_serve.streams.recordings import recording_settings
from coral_serve.workers.pool import WorkerPool
from coral_serve.workers.priority import apply_control_plane_priority
from coral_serve.workers.ray_hosts import ray_worker_pool

__all__ = ["bind_graph"]


def _service_deployment(service_cls: type, name: str, options: DeploymentOptions) -> Deployment:
    """Wrap a plain service class so Serve starts it after construction and stops it on shutdown."""

    class Replica(service_cls):  # type: ignore[valid-type, misc]
        async def __init__(self, *args: Any, **kwargs: Any) -> None:
            apply_control_plane_priority()
            service_cls.__init__(self, *args, **kwargs)
            await self.start()

        async def __del__(self) -> None:
            await self.stop()

    Replica.__name__ = Replica.__qualname__ = service_cls.__name__
    return serve.deployment(Replica, name=name, **options.to_serve())


def bind_graph(config: CoralConfig) -> Application:
    """Bind every deployment of the descriptor into one application."""
    config.check_startable()
    plan = config.deployments
    recipes = _recipes(config)
    local = _run_in_ingress(config, recipes)
    ingress = serve.deployment(Ingress, name="Ingress", **plan.ingress.to_serve())
    if plan.combine:
        ingress = ingress.options(**plan.combined(set(local)).to_serve())
    remote: dict[str, Any] = {}
    for name, (service_cls, args) in recipes.items():
        if name in local:
            continue
        deployment = _service_deployment(service_cls, service_cls.__name__, plan.of(name))
        if name == "streams":
            deployment = deployment.options(request_router_config=session_routing())
        bound = [remote[arg.name] if isinstance(arg, Sibling) else arg for arg in args]
        remote[name] = deployment.bind(*bound)
    return ingress.bind(config, remote, local)


def _run_in_ingress(config: CoralConfig, recipes: Recipes) -> Recipes:
    """The recipes the ingress replica runs itself, in their start order. With
    `deployments.combine`, every service that runs one replica, unless a scaled service
    needs it: a deployment of its own cannot reach into the ingress replica."""
    chosen = {"health"} if config.health.in_ingress else set()
    if config.deployments.combine:
        apart = {name for name in recipes if not config.deployments.of(name).single}
        for name in reversed(list(recipes)):  # a recipe's siblings come before it
            if name in apart:
                apart |= {arg.name for arg in recipes[name][1] if isinstance(arg, Sibling)}
        chosen |= set(recipes) - apart
    return {name: recipe for name, recipe in recipes.items() if name in chosen}


def _recipes(config: CoralConfig) -> Recipes:
    """Every service's class and arguments, in the order they start."""

    def workers() -> WorkerPool:
        # Each service gets a pool of its own, also when several run in one replica.
        return ray_worker_pool(
            config.pipelines.isolation,
            config.runtime.namespace,
            recording_settings(
                config.streams.recordings, config.pipelines.data_dir, config.pipelines.downloads
            ),
            ModelFiles.allowed_by(config.pipelines.models, config.pipelines.data_dir),
            config.pipelines.host_malloc_arenas,
        )

    # Media on each node's own disk is reached through that node's agent; a volume every
    # node mounts is read directly.
    media = None
    if not config.streams.media.shared:
        media = RayMediaNodes(
            config.runtime.namespace,
            str(config.streams.recordings.directory),
            config.pipelines.data_dir,
            config.monitoring.disk,
        )
    states = functools.partial(serve_deployment_states, config.runtime.app_name)
    monitor = Sibling("monitor")
    return {
        "pipelines": (PipelineService, (config, workers())),
        # Pipeline fps and latency also go to Ray's own metrics, a sink only the graph builds.
        "monitor": (MonitorService, (config, workers(), {"ray": RayMetricsSink()}, media)),
        "events": (EventService, (config, workers(), None, media)),
        "streams": (StreamService, (config, workers(), monitor, media, replica_tag)),
        "health": (HealthService, (config, Sibling("pipelines"), monitor, states)),
    }
