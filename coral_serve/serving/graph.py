"""`bind_graph(config)`: the Ray Serve graph; it reads like the graph.

Ingress (FastAPI) ── PipelineService, StreamService, MonitorService, HealthService, EventService

On one box PipelineService, MonitorService and EventService may share one ControlPlane
replica (`deployments.combine_singletons`) and HealthService may run in the ingress
(`health.in_ingress`).
"""

from __future__ import annotations

import functools
from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.deployment import Deployment

from coral_serve.config import CoralConfig
from coral_serve.config.deployments import DeploymentOptions, DeploymentsConfig
from coral_serve.engine.model_files import ModelFiles
from coral_serve.services.events import EventService
from coral_serve.services.health import HealthService
from coral_serve.services.monitor import MonitorService
from coral_serve.services.pipeline import PipelineService
from coral_serve.services.stream import StreamService
from coral_serve.serving.combined import COMBINED_DEPLOYMENT, ControlPlane, MemberHandle, Members
from coral_serve.serving.ingress import Ingress
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
    streams = _service_deployment(StreamService, "StreamService", plan.stream_service).options(
        request_router_config=session_routing()
    )
    health = _service_deployment(HealthService, "HealthService", plan.health_service)
    ingress = serve.deployment(Ingress, name="Ingress", **plan.ingress.to_serve())

    def workers() -> WorkerPool:
        # Each service gets a pool of its own, as it would in a replica of its own.
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
    # Pipeline fps and latency also go to Ray's own metrics, a sink only the graph can build.
    singletons: Members = {
        "pipelines": (PipelineService, (config, workers())),
        "monitor": (MonitorService, (config, workers(), {"ray": RayMetricsSink()}, media)),
        "events": (EventService, (config, workers(), None, media)),
    }
    pipelines_node, monitor_node, events_node = _bind_singletons(plan, singletons)
    # With health.in_ingress (one box) each ingress replica answers readiness itself.
    health_node = None
    if not config.health.in_ingress:
        states = functools.partial(serve_deployment_states, config.runtime.app_name)
        health_node = health.bind(config, pipelines_node, monitor_node, states)
    return ingress.bind(
        config,
        pipelines_node,
        streams.bind(config, workers(), monitor_node, media, replica_tag),
        monitor_node,
        health_node,
        events_node,
    )


def _bind_singletons(plan: DeploymentsConfig, singletons: Members) -> list[Any]:
    """The three single-replica services, each a deployment of its own or, with
    `deployments.combine_singletons`, members of one ControlPlane replica."""
    if plan.combine_singletons:
        control = serve.deployment(
            ControlPlane, name=COMBINED_DEPLOYMENT, **plan.combined_singletons().to_serve()
        ).bind(singletons)
        return [MemberHandle(control, member) for member in singletons]
    options = {
        "pipelines": plan.pipeline_service,
        "monitor": plan.monitor_service,
        "events": plan.event_service,
    }
    return [
        _service_deployment(service_cls, service_cls.__name__, options[member]).bind(*args)
        for member, (service_cls, args) in singletons.items()
    ]
